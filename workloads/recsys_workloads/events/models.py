"""Request and response bodies of `POST /events` (shape only; time checks are in `validation`).

Decision on impressions: `Impression` events are accepted but only logged. They are real
negatives for training (`clicked = false` offline), but a shown item is not an interaction,
so it must not hide the item, enter recent items, shift the top category or count as
popularity.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from recsys_workloads import vocab
from recsys_workloads.data import schema as s

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
EventTypeName = Literal["View", "AddToCart", "ViewCart", "StartCheckout", "Purchase", "Impression"]
DeviceName = Literal["web", "ios", "android"]
# Literals (not the enums) give OpenAPI a plain enum; tests/unit/events keeps them in step
# with `schema.EVENT_TYPES` and `vocab.DEVICE_TYPES`.


class Event(BaseModel):
    """One interaction of a signed-in user (`user_id`) or an anonymous visitor (`anonymous_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    event_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=ID_PATTERN,
        description="client idempotency key, unique per visitor",
    )
    user_id: str | None = Field(None, min_length=1, max_length=64, pattern=ID_PATTERN)
    anonymous_id: str | None = Field(
        None, min_length=6, max_length=64, pattern=r"^anon-[A-Za-z0-9._:@-]+$", description="anon-<session>"
    )
    item_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    event_type: EventTypeName
    device: DeviceName | None = Field(None, description="web, ios or android; null when unknown")
    timestamp: int | None = Field(
        None,
        ge=s.MIN_TIMESTAMP,
        le=s.MAX_TIMESTAMP,
        description="Unix seconds (UTC) when it happened; omitted: the server's clock",
    )
    recommendation_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="the homepage's recommendation_id (Personalize's RECOMMENDATION_ID) when the item was "
        "clicked from it: View, AddToCart and Purchase on its items count for its experiment arm",
    )

    @model_validator(mode="after")
    def _one_visitor(self) -> Self:
        if (self.user_id is None) == (self.anonymous_id is None):
            raise ValueError("exactly one of user_id and anonymous_id must be set")
        if self.user_id is not None and self.user_id.startswith(vocab.ANONYMOUS_PREFIX):
            raise ValueError(f"user_id must not start with {vocab.ANONYMOUS_PREFIX!r} (use anonymous_id)")
        return self

    @property
    def visitor(self) -> str:
        """The key of this visitor's online state (user id or anonymous id)."""
        return self.user_id if self.user_id is not None else str(self.anonymous_id)

    @property
    def is_interaction(self) -> bool:
        return self.event_type != "Impression"


class EventBatch(BaseModel):
    """Up to `limits.maxBatch` events in one request (one fsync, fewer round trips)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[Event] = Field(min_length=1)


def _payload_kind(value: Any) -> str:
    if isinstance(value, dict) and "events" in value:
        return "batch"
    if isinstance(value, EventBatch):
        return "batch"
    return "event"


EventPayload = Annotated[
    Annotated[Event, Tag("event")] | Annotated[EventBatch, Tag("batch")],
    Discriminator(_payload_kind),
]
"""The body of `POST /events`: one event, or `{"events": [...]}`."""


class EventOutcome(BaseModel):
    event_id: str
    status: Literal["accepted", "duplicate"]


class EventsResponse(BaseModel):
    """Every event of the request, in order; `duplicate`: its id was applied before (not re-applied)."""

    accepted: int
    duplicates: int
    results: list[EventOutcome]


class ErrorResponse(BaseModel):
    """A rejected request: nothing of it was applied or logged."""

    detail: str
    errors: list[str] = Field(default_factory=list)
