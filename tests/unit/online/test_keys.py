"""Key layout: names, UTC day rotation and cluster hash tags (pure)."""

from __future__ import annotations

import datetime as dt

import pytest
from redis.crc import key_slot

from recsys_workloads.contracts import keys

DAY_END = dt.datetime(2026, 11, 15, 23, 59, 59, tzinfo=dt.UTC).timestamp()


def test_seen_key_puts_the_user_in_a_hash_tag_and_the_utc_day_last() -> None:
    day = dt.date(2026, 11, 22)
    assert keys.seen_key("u42", day) == "seen:{u42}:20261122"
    assert keys.seen_key(42, day, native=True) == "seen:{42}:20261122:bf"


def test_day_rotates_at_utc_midnight() -> None:
    assert keys.utc_day(DAY_END) == dt.date(2026, 11, 15)
    assert keys.utc_day(DAY_END + 1) == dt.date(2026, 11, 16)


def test_window_keys_cover_today_and_the_previous_days_newest_first() -> None:
    window = keys.seen_window_keys("u", DAY_END + 1, 3)
    assert window == ["seen:{u}:20261116", "seen:{u}:20261115", "seen:{u}:20261114"]


@pytest.mark.parametrize("user", ["u1", "42", "user:with:colons", "a}b", "ünïcode"])
def test_all_of_a_users_filters_share_one_cluster_slot(user: str) -> None:
    slots = {
        key_slot(key.encode())
        for native in (False, True)
        for key in keys.seen_window_keys(user, DAY_END, 30, native=native)
    }
    assert len(slots) == 1


def test_different_users_spread_over_slots() -> None:
    slots = {key_slot(keys.seen_key(f"user{i}", dt.date(2026, 1, 1)).encode()) for i in range(200)}
    assert len(slots) > 150


def test_empty_user_id_is_rejected_because_its_hash_tag_would_be_empty() -> None:
    with pytest.raises(ValueError):
        keys.seen_key("", dt.date(2026, 1, 1))


def test_popularity_keys_carry_the_era() -> None:
    assert keys.pop_global_key(7) == "pop:e7:global"
    assert keys.pop_category_key("shoes", 7) == "pop:e7:cat:shoes"
