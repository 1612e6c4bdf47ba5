"""Every bad request maps to its 4xx status and a message naming the field (pure, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from recsys_workloads import vocab
from recsys_workloads.contracts.events import EventLimits
from recsys_workloads.data import schema as s
from recsys_workloads.events.models import DeviceName, EventTypeName
from recsys_workloads.events.validation import EventRejectedError, validate_request

NOW = 1_795_000_000.0
KNOWN = {"i1", "i2"}
LIMITS = EventLimits(max_batch=3, max_future_skew_s=300, max_age_s=3_600)


def ev(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": "e1", "user_id": "u1", "item_id": "i1", "event_type": "View"}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def test_the_api_vocabularies_match_the_data_plane() -> None:
    assert tuple(EventTypeName.__args__) == s.EVENT_TYPES  # type: ignore[attr-defined]
    assert tuple(DeviceName.__args__) == vocab.DEVICE_TYPES  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (ev(event_type="Like"), 422, "event_type: Input should be 'View'"),
        (ev(event_type="view"), 422, "event_type: Input should be"),
        (ev(device="playstation"), 422, "device: Input should be 'web', 'ios' or 'android'"),
        (ev(user_id=None), 422, "exactly one of user_id and anonymous_id must be set"),
        (ev(anonymous_id="anon-1"), 422, "exactly one of user_id and anonymous_id must be set"),
        (ev(user_id=None, anonymous_id="visitor-1"), 422, "anonymous_id: String should match pattern"),
        (ev(user_id="anon-5"), 422, "user_id must not start with 'anon-'"),
        (ev(user_id="u 1"), 422, "user_id: String should match pattern"),
        (ev(user_id=""), 422, "user_id: String should have at least 1 character"),
        (ev(item_id="i1/../x"), 422, "item_id: String should match pattern"),
        (ev(event_id="x" * 129), 422, "event_id: String should have at most 128 characters"),
        (ev(event_id=None), 422, "event_id: Field required"),
        (ev(color="red"), 422, "color: Extra inputs are not permitted"),
        (ev(timestamp=1_795_000_000_000), 422, "timestamp: Input should be less than or equal to"),
        (ev(timestamp=1_795_000_000.5), 422, "timestamp: Input should be a valid integer"),
        (ev(timestamp=int(NOW) + 301), 422, "events[0].timestamp: 301 s in the future"),
        (ev(timestamp=int(NOW) - 3_601), 422, "events[0].timestamp: 3601 s old"),
        (ev(item_id="i9"), 422, "events[0].item_id: unknown item"),
        ({"events": []}, 422, "events: List should have at least 1 item"),
        ({"events": [ev(), ev(event_type="Like")]}, 422, "events[1].event_type: Input should be"),
        ({"events": [ev()] * 4}, 413, "4 events, at most 3 per request"),
        ([ev()], 422, "body: Input should be a valid dictionary"),
    ],
)
def test_bad_input_is_rejected_with_its_status_and_message(body: object, status: int, message: str) -> None:
    with pytest.raises(EventRejectedError) as caught:
        validate_request(body, NOW, LIMITS, KNOWN)
    assert caught.value.status == status
    assert any(line.startswith(message) or message in line for line in caught.value.errors), (
        caught.value.errors
    )


def test_every_problem_of_a_batch_is_reported_at_once() -> None:
    body = {"events": [ev(item_id="i9"), ev(), ev(item_id="i8")]}
    with pytest.raises(EventRejectedError) as caught:
        validate_request(body, NOW, LIMITS, KNOWN)
    assert [line.split(":")[0] for line in caught.value.errors] == ["events[0].item_id", "events[2].item_id"]


def test_a_missing_timestamp_is_the_server_clock_and_edges_of_the_window_pass() -> None:
    body = {"events": [ev(), ev(timestamp=int(NOW) + 300), ev(timestamp=int(NOW) - 3_600)]}
    events, times = validate_request(body, NOW, LIMITS, KNOWN)
    assert times == [int(NOW), int(NOW) + 300, int(NOW) - 3_600]
    assert [e.visitor for e in events] == ["u1"] * 3


def test_unknown_items_pass_when_the_config_accepts_them() -> None:
    limits = LIMITS.model_copy(update={"unknown_items": "accept"})
    events, _ = validate_request(
        ev(item_id="new-item", anonymous_id="anon-3", user_id=None), NOW, limits, KNOWN
    )
    assert events[0].visitor == "anon-3" and not events[0].user_id


def test_impressions_are_events_but_not_interactions() -> None:
    events, _ = validate_request({"events": [ev(event_type="Impression"), ev()]}, NOW, LIMITS, KNOWN)
    assert [e.is_interaction for e in events] == [False, True]


def test_limits_appear_in_the_spec_in_camel_case() -> None:
    assert EventLimits().to_spec() == {
        "maxBatch": 1000,
        "maxFutureSkewS": 300,
        "maxAgeS": 86400,
        "unknownItems": "reject",
    }
