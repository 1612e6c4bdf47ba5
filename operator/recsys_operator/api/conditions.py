"""Status conditions with `metav1.Condition` semantics, as pure functions.

`lastTransitionTime` moves only when `status` changes; reason and message may change
without a transition. Helpers return the whole new list because kopf merge-patches
lists whole.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator

from recsys_workloads.contracts.spec import SpecModel

ConditionStatus = Literal["True", "False", "Unknown"]
_REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Condition(SpecModel):
    type: str = Field(description="condition type in CamelCase, e.g. Ready, IndexReady")
    status: ConditionStatus = Field(description="True, False or Unknown")
    reason: str = Field(description="one CamelCase word for machines")
    message: str = Field("", description="what a human needs to know")
    last_transition_time: dt.datetime = Field(description="when status last changed")
    observed_generation: int | None = Field(None, ge=0, description="spec generation this was computed from")

    def to_spec(self) -> dict[str, object]:
        """An empty message is left out: the 1.20 API server reads "" in a patch as null."""
        spec = super().to_spec()
        if not self.message:
            spec.pop("message", None)
        return spec

    @field_validator("reason")
    @classmethod
    def _camel_case_reason(cls, value: str) -> str:
        if not _REASON.match(value):
            raise ValueError(f"reason must be CamelCase without spaces, got {value!r}")
        return value


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.status == "True"


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str = "",
    observed_generation: int | None = None,
    at: dt.datetime | None = None,
) -> list[Condition]:
    """The list with `type_` set; other conditions and their order are kept."""
    previous = find(conditions, type_)
    transition = previous.last_transition_time if previous and previous.status == status else (at or now())
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=transition,
        observed_generation=observed_generation,
    )
    if previous is None:
        return [*conditions, updated]
    return [updated if c.type == type_ else c for c in conditions]
