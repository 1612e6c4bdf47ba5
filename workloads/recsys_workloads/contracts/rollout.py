"""The outcome of a model-version switch on Triton, as promotion records it in the status."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Transition = Literal["UpToDate", "InProgress", "BlockedByFailedLoad"]


class RolloutError(RuntimeError):
    """A version did not load or failed its canary; the previous version still serves."""


class RolloutResult(BaseModel):
    model: str
    current_version: int | None
    previous_version: int | None
    transition: Transition
    message: str = ""
