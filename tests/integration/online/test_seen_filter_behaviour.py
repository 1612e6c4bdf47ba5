"""One behavioural suite for both seen-filter backends (bitmap: real redis-server; native: fakeredis)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import cast

import numpy as np
import pytest

from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.online.seen_filter import SeenFilter, contains_or_passthrough

FilterFactory = Callable[[SeenFilterConfig], SeenFilter]  # the `make_filter` fixture (conftest.py)

DAY = 86_400
D0_LAST_SECOND = dt.datetime(2026, 11, 15, 23, 59, 59, tzinfo=dt.UTC).timestamp()
D1_MIDNIGHT = D0_LAST_SECOND + 1


def test_added_items_are_hidden_and_others_are_not(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig())
    seen.add("u1", [10, 20, 30], at=D1_MIDNIGHT)
    assert seen.contains("u1", [10, 20, 30, 40, 50], at=D1_MIDNIGHT).tolist() == [True] * 3 + [False] * 2


def test_users_do_not_see_each_others_items(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig())
    seen.add("alice", [1, 2], at=D1_MIDNIGHT)
    assert not seen.contains("bob", [1, 2], at=D1_MIDNIGHT).any()


def test_string_item_ids_work_like_integers(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig())
    seen.add(7, ["sku-a", "sku-b"], at=D1_MIDNIGHT)
    assert seen.contains(7, ["sku-b", "sku-c", "sku-a"], at=D1_MIDNIGHT).tolist() == [True, False, True]


def test_empty_candidate_list_returns_an_empty_mask(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig())
    result = seen.contains("u1", np.array([], dtype=np.int64), at=D1_MIDNIGHT)
    assert result.dtype == np.bool_ and result.shape == (0,)


def test_item_seen_just_before_midnight_stays_hidden_after_it(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig(window_days=7))
    seen.add("u1", [99], at=D0_LAST_SECOND)
    assert seen.contains("u1", [99], at=D1_MIDNIGHT).tolist() == [True]


def test_item_is_hidden_for_exactly_the_window_days_then_visible(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig(window_days=7))
    seen.add("u1", [99], at=D0_LAST_SECOND)
    last_hidden = D0_LAST_SECOND + 6 * DAY  # 23:59:59 on day D0 + 6
    assert seen.contains("u1", [99], at=last_hidden).tolist() == [True]
    assert seen.contains("u1", [99], at=last_hidden + 1).tolist() == [False]


def test_items_from_every_day_of_the_window_are_combined(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig(window_days=3))
    for day in range(3):
        seen.add("u1", [100 + day], at=D1_MIDNIGHT + day * DAY + 3600)
    now = D1_MIDNIGHT + 2 * DAY + 7200
    assert seen.contains("u1", [100, 101, 102, 103], at=now).tolist() == [True, True, True, False]
    assert seen.contains("u1", [100, 101, 102], at=now + DAY).tolist() == [False, True, True]


def test_day_filters_expire_one_day_after_the_window(make_filter: FilterFactory) -> None:
    config = SeenFilterConfig(window_days=7)
    seen = make_filter(config)
    seen.add("u1", [1], at=D1_MIDNIGHT)
    ttl = cast(int, seen.client.ttl(next(iter(seen.client.scan_iter("seen:*")))))
    assert 7 * DAY < ttl <= 8 * DAY


def test_passthrough_reports_a_working_filter_as_not_skipped(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig())
    seen.add("u1", [5], at=D1_MIDNIGHT)
    result = contains_or_passthrough(seen, "u1", [5, 6], at=D1_MIDNIGHT)
    assert result.seen.tolist() == [True, False] and not result.filter_skipped


def _fpr(make_filter: FilterFactory, window_days: int, capacity: int, rate: float) -> tuple[float, int]:
    """Fill every day of the window to capacity, then probe 20,000 never-inserted ids."""
    seen = make_filter(SeenFilterConfig(window_days=window_days, capacity=capacity, error_rate=rate))
    now = D1_MIDNIGHT + (window_days - 1) * DAY
    inserted = []
    for day in range(window_days):
        batch = np.arange(capacity, dtype=np.int64) + day * capacity
        seen.add("fpr", batch, at=D1_MIDNIGHT + day * DAY)
        inserted.append(batch)
    members = np.concatenate(inserted)
    false_negatives = int((~seen.contains("fpr", members, at=now)).sum())
    probes = np.arange(20_000, dtype=np.int64) + 10_000_000
    hits = sum(int(seen.contains("fpr", chunk, at=now).sum()) for chunk in np.array_split(probes, 10))
    return hits / probes.size, false_negatives


def test_false_positive_rate_of_one_full_filter_is_within_the_configured_rate(
    make_filter: FilterFactory,
) -> None:
    fpr, false_negatives = _fpr(make_filter, window_days=1, capacity=2000, rate=0.01)
    assert false_negatives == 0
    assert fpr <= 1.5 * 0.01


def test_false_positive_rate_of_a_full_window_is_within_the_configured_rate(
    make_filter: FilterFactory,
) -> None:
    fpr, false_negatives = _fpr(make_filter, window_days=3, capacity=1000, rate=0.01)
    assert false_negatives == 0
    assert fpr <= 1.5 * 0.01


def test_empty_user_id_is_rejected(make_filter: FilterFactory) -> None:
    seen = make_filter(SeenFilterConfig())
    with pytest.raises(ValueError):
        seen.add("", [1], at=D1_MIDNIGHT)
