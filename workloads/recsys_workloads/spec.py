"""Base class of every configuration model that appears in a custom resource's spec.

The same pydantic objects flow from `RecommenderSystem.spec` to pipeline parameters and
serving config (nothing re-parses YAML by hand). Kubernetes spells fields in camelCase,
Python in snake_case: aliases give the first, `populate_by_name` keeps the second
working in code. Unknown fields are errors, because Kubernetes 1.20 prunes them
silently and a typo must not turn into a default.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
