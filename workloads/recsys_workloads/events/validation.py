"""Request checks beyond shape (pure): batch size, clock skew, age, catalog membership.

Each failure is an `EventRejectedError` carrying its HTTP status and one message per bad
event, so a client sees every problem of a batch at once and nothing of it is applied.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from recsys_workloads.contracts.events import EventLimits
from recsys_workloads.events.models import Event, EventBatch, EventPayload

PAYLOAD: TypeAdapter[Event | EventBatch] = TypeAdapter(EventPayload)


@dataclass
class EventRejectedError(Exception):
    """A 4xx answer: `status` (413 or 422), a summary and one line per problem."""

    status: int
    detail: str
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.detail}: {'; '.join(self.errors)}"


def _where(loc: Sequence[int | str]) -> str:
    """`('body', 'batch', 'events', 3, 'item_id')` -> `events[3].item_id`."""
    parts = [p for p in loc if p not in ("body", "batch", "event")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def format_errors(errors: Sequence[Any]) -> list[str]:
    """Pydantic errors as `where: message` lines (no input echo: ids may be personal data)."""
    lines = []
    for error in errors:
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{_where(error['loc'])}: {message}")
    return lines


def parse_payload(body: object) -> list[Event]:
    """One event or a batch, as a list; malformed input -> 422 with every problem listed."""
    try:
        payload = PAYLOAD.validate_python(body)
    except ValidationError as exc:
        raise EventRejectedError(422, "invalid event", format_errors(exc.errors())) from exc
    return payload.events if isinstance(payload, EventBatch) else [payload]


def check_batch_size(count: int, limits: EventLimits) -> None:
    if count > limits.max_batch:
        raise EventRejectedError(
            413, "batch too large", [f"{count} events, at most {limits.max_batch} per request"]
        )


def event_times(events: Sequence[Event], now: float, limits: EventLimits) -> list[int]:
    """Each event's time (server clock when omitted); too far ahead or too old -> 422."""
    times: list[int] = []
    errors: list[str] = []
    latest = now + limits.max_future_skew_s
    earliest = now - limits.max_age_s
    for i, event in enumerate(events):
        at = int(now) if event.timestamp is None else event.timestamp
        if at > latest:
            errors.append(
                f"events[{i}].timestamp: {at - int(now)} s in the future (clock skew over "
                f"{limits.max_future_skew_s} s)"
            )
        elif at < earliest:
            errors.append(f"events[{i}].timestamp: {int(now) - at} s old (older than {limits.max_age_s} s)")
        times.append(at)
    if errors:
        raise EventRejectedError(422, "timestamp out of range", errors)
    return times


def check_items(events: Sequence[Event], known: Collection[str], limits: EventLimits) -> None:
    """Items missing from the catalog would enter popularity and be served: reject by default."""
    if limits.unknown_items == "accept":
        return
    errors = [
        f"events[{i}].item_id: unknown item (not in the catalog)"
        for i, event in enumerate(events)
        if event.item_id not in known
    ]
    if errors:
        raise EventRejectedError(422, "unknown item", errors)


def validate_request(
    body: object, now: float, limits: EventLimits, known_items: Collection[str]
) -> tuple[list[Event], list[int]]:
    """Every check in order of cheapness; returns the events and their times."""
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        check_batch_size(len(body["events"]), limits)  # before validating 100k rows
    events = parse_payload(body)
    check_batch_size(len(events), limits)
    check_items(events, known_items, limits)
    return events, event_times(events, now, limits)
