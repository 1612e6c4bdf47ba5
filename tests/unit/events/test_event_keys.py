"""The event service's keys share the visitor's cluster slot with the seen filters."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.crc import key_slot

from recsys_workloads.contracts import keys


@pytest.mark.parametrize("visitor", ["u1", "anon-42", "user:with:colons"])
def test_recent_items_top_category_and_event_markers_live_in_the_seen_filters_slot(visitor: str) -> None:
    slot = key_slot(keys.seen_key(visitor, dt.date(2026, 11, 22)).encode())
    names = [
        keys.recent_items_key(visitor),
        keys.top_category_key(visitor),
        keys.event_id_key(visitor, "e-1"),
    ]
    assert {key_slot(name.encode()) for name in names} == {slot}
    assert names == [f"recent:{{{visitor}}}", f"topcat:{{{visitor}}}", f"evt:{{{visitor}}}:e-1"]


def test_empty_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="event id"):
        keys.event_id_key("u1", "")
    with pytest.raises(ValueError, match="user id"):
        keys.recent_items_key("")
