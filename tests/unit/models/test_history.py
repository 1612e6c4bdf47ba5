"""`features.history.user_history` follows the online store's rules (what the event service keeps in Valkey)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_workloads.features.history import UserHistory, user_history
from recsys_workloads.online.top_category import top_category

CATS = {"a": "shoes", "b": "bags", "c": "bags", "d": "toys", "e": "shoes"}


def history(visitors: list[str | None], items: list[str], ts: list[int], **kw: int) -> UserHistory:
    return user_history(
        np.array(visitors, dtype=object),
        np.array(items, dtype=object),
        np.array(ts, dtype=np.int64),
        CATS,
        **kw,
    )


def test_anonymous_visitors_have_history_and_none_visitors_are_skipped() -> None:
    got = history(["anon-1", None, "anon-1"], ["a", "b", "d"], [1, 2, 3], recent=5)
    assert got.recent_items == {"anon-1": ("d", "a")}
    assert got.recent_times == {"anon-1": (3, 1)}


def test_equal_times_list_in_reverse_id_order_like_zrevrange() -> None:
    got = history(["u", "u", "u"], ["a", "c", "b"], [7, 7, 7], recent=3)
    assert got.recent_items["u"] == ("c", "b", "a")


def test_state_expires_memory_after_the_last_interaction() -> None:
    got = history(["old", "new", "new"], ["a", "a", "b"], [100, 100, 190], recent=5, as_of=200, memory_s=100)
    assert "old" not in got.recent_items and "old" not in got.top_category
    # a live visitor keeps items older than the window: the key's TTL restarts at each event
    assert got.recent_items["new"] == ("b", "a")


def test_top_category_ties_go_to_the_most_recent_and_uncategorised_items_are_skipped() -> None:
    got = history(["u"] * 5, ["zz", "a", "b", "e", "c"], [5, 4, 3, 2, 1], recent=2)
    assert (
        got.top_category["u"] == "shoes"
    )  # newest first: zz, a(shoes), b(bags), e(shoes), c(bags): tie -> a
    only_unknown = history(["v"], ["zz"], [1], recent=2)
    assert only_unknown.recent_items == {"v": ("zz",)} and only_unknown.top_category == {}


def test_only_the_kept_items_count_for_the_top_category() -> None:
    got = history(["u"] * 4, ["b", "c", "a", "e"], [1, 2, 3, 4], recent=1, kept=2)
    assert got.recent_items["u"] == ("e",) and got.top_category["u"] == "shoes"  # b, c fell out of the 2 kept


def test_recent_above_what_the_store_keeps_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot exceed"):
        history(["u"], ["a"], [1], recent=3, kept=2)


@pytest.mark.parametrize("seed", range(20))
def test_matches_the_event_services_top_category_on_random_histories(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    visitors = rng.choice(["u1", "u2", "u3"], n).tolist()
    items = rng.choice([*CATS, "zz"], n).tolist()
    ts = rng.integers(0, 10, n).tolist()
    got = history(visitors, items, ts, recent=3, kept=4)
    for v in set(visitors):
        last: dict[str, int] = {}
        for who, item, at in zip(visitors, items, ts, strict=True):
            if who == v:
                last[item] = max(at, last.get(item, -1))
        newest = sorted(sorted(last, reverse=True), key=lambda i: -last[i])[:4]
        assert got.recent_items[v] == tuple(newest[:3])
        assert got.top_category.get(v) == top_category(newest, CATS.get)
