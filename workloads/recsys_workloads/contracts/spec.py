"""Base class of every configuration model that appears in a custom resource's spec.

The same pydantic objects flow from `RecommenderSystem.spec` to pipeline parameters and
serving config (nothing re-parses YAML by hand). Kubernetes spells fields in camelCase,
Python in snake_case: aliases give the first, `populate_by_name` keeps the second
working in code. Unknown fields are errors, because Kubernetes 1.20 prunes them
silently and a typo must not turn into a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


class SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
    )

    def to_spec(self) -> dict[str, object]:
        """The camelCase JSON shape Kubernetes stores (defaults included)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# Field types of spec strings whose grammar another system owns. Each is a pattern the CRD
# schema carries (the API server refuses a bad value at `kubectl apply`) and pydantic checks
# again (local mode, TrainingRun parameters). Written for RE2 (the API server's regexp) and
# Rust's regex (pydantic's): no look-around, ASCII classes only.

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_HOST_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?"
_DECIMAL = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)"
# A path segment other than `..` (`.` is harmless); no whitespace anywhere.
_SEGMENT = r"([^/\s.][^/\s]*|\.[^/\s.][^/\s]*|\.\.[^/\s]+|\.)"
_ABSOLUTE = rf"/({_SEGMENT}(/{_SEGMENT})*/?)?"
_PORT = r"([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_PATH_COMPONENT = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"

# resource.Quantity without a sign (requests, limits and sizes are never negative): 500m, 2, 8Gi, 1e3.
QUANTITY_PATTERN = rf"^{_DECIMAL}([KMGTPE]i|[numkMGTPE]|[eE][-+]?{_DECIMAL})?$"
# distribution/reference: [registry[:port]/]path[:tag][@algorithm:digest]
IMAGE_PATTERN = (
    rf"^({_HOST_LABEL}(\.{_HOST_LABEL})*(:[0-9]+)?/)?{_PATH_COMPONENT}(/{_PATH_COMPONENT})*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
DNS_SUBDOMAIN_PATTERN = rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$"
HOST_PORT_PATTERN = rf"^({_HOST_LABEL}(\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\]):{_PORT}$"
HTTP_URL_PATTERN = rf"^https?://({_HOST_LABEL}(\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(:{_PORT})?(/\S*)?$"
ABSOLUTE_PATH_PATTERN = rf"^{_ABSOLUTE}$"
STORE_URI_PATTERN = (
    rf"^(s3://[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9](/({_SEGMENT}(/{_SEGMENT})*/?)?)?|{_ABSOLUTE})$"
)


@dataclass(frozen=True)
class Grammar:
    """`Annotated[str, Grammar(...)]`: a string checked against `pattern`, with an error that says
    what was expected (pydantic's own prints the regex); the CRD schema gets the pattern itself."""

    pattern: str
    what: str
    max_length: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        compiled = re.compile(self.pattern)

        def check(value: str) -> str:
            if len(value) > self.max_length or not compiled.match(value):
                raise ValueError(f"{value!r} is not {self.what}")
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": self.pattern, "maxLength": self.max_length}


Quantity = Annotated[str, Grammar(QUANTITY_PATTERN, "a Kubernetes quantity (e.g. 500m, 2, 8Gi)", 64)]
ImageRef = Annotated[
    str, Grammar(IMAGE_PATTERN, "an image reference ([registry/]name[:tag][@digest], lowercase)", 512)
]
ObjectName = Annotated[
    str, Grammar(DNS_SUBDOMAIN_PATTERN, "a Kubernetes object name (lowercase DNS subdomain)", 253)
]
HostPort = Annotated[str, Grammar(HOST_PORT_PATTERN, "host:port (port 1-65535)", 261)]
HttpUrl = Annotated[str, Grammar(HTTP_URL_PATTERN, "an http:// or https:// URL", 2048)]
AbsolutePath = Annotated[str, Grammar(ABSOLUTE_PATH_PATTERN, "an absolute path without '..'", 4096)]
StoreUri = Annotated[
    str,
    Grammar(
        STORE_URI_PATTERN,
        "an s3://bucket/prefix (bucket of 3-63 characters) or an absolute path without '..'",
        4096,
    ),
]
"""Pods and local mode resolve nothing relative, so a data or artifact location is one of these."""
