"""Seen/excluded filtering, Valkey-down passthrough and popularity backfill (no Valkey needed)."""

from __future__ import annotations

import numpy as np

from recsys_workloads.features import transform as ft
from recsys_workloads.online.client import OnlineStoreUnavailableError
from recsys_workloads.online.seen_filter import SeenFilter
from recsys_workloads.serving.filtering import filter_candidates
from recsys_workloads.serving.item_cache import ItemCache

IDS = np.array([f"i{i}" for i in range(10)])


def _cache() -> ItemCache:
    features: ft.Features = {name: np.arange(10) for name in ft.ITEM_FEATURES}
    return ItemCache(IDS, features)


class _Seen(SeenFilter):
    """A filter over a fixed set of ids (the real backends are tested against redis-server)."""

    def __init__(self, seen: set[str], down: bool = False) -> None:
        self.seen, self.down = seen, down

    def _add(self, key: str, ids: np.ndarray) -> None:
        raise NotImplementedError

    def _contains(self, day_keys: list[str], ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def contains(self, user_id: object, item_ids: object, at: float) -> np.ndarray:
        if self.down:
            raise OnlineStoreUnavailableError("down")
        return np.array([i in self.seen for i in list(item_ids)], dtype=np.bool_)  # type: ignore[call-overload]


def test_seen_and_excluded_items_are_dropped_in_order() -> None:
    out = filter_candidates(_cache(), np.array([3, 1, 4, 5]), _Seen({"i1"}), "u", 0.0, ["i5"])
    assert out.rows.tolist() == [3, 4]
    assert not out.filter_skipped


def test_valkey_down_keeps_every_candidate_and_flags_it() -> None:
    out = filter_candidates(_cache(), np.array([3, 1]), _Seen({"i1"}, down=True), "u", 0.0)
    assert out.rows.tolist() == [3, 1]
    assert out.filter_skipped


def test_anonymous_request_without_id_is_not_filtered_nor_flagged() -> None:
    out = filter_candidates(_cache(), np.array([3, 1]), _Seen({"i1"}), "", 0.0)
    assert out.rows.tolist() == [3, 1] and not out.filter_skipped


def test_empty_candidate_set_is_backfilled_with_unseen_popular_items() -> None:
    popular = ["i9", "i1", "i8", "i7", "i6"]
    out = filter_candidates(
        _cache(), np.array([1]), _Seen({"i1", "i8"}), "u", 0.0, ["i7"], need=2, popular=lambda n: popular[:n]
    )
    assert out.rows.tolist() == [9, 6]
    assert out.backfilled == 2
