"""Decayed global and per-category popularity on the real redis-server."""

from __future__ import annotations

from typing import cast

import pytest
import redis

from recsys_workloads.contracts.online import PopularityConfig
from recsys_workloads.online.popularity import Popularity, era_of, landmark

CONFIG = PopularityConfig(half_life_hours=24)
HOUR = 3600.0
T = landmark(era_of(1_795_000_000.0, CONFIG), CONFIG) + 5 * 86_400  # mid-era


@pytest.fixture
def pop(real_client: redis.Redis) -> Popularity:
    return Popularity(real_client, CONFIG)


def test_recent_events_outrank_the_same_number_of_older_ones(pop: Popularity) -> None:
    for _ in range(3):
        pop.record("old", at=T - 48 * HOUR)
        pop.record("new", at=T)
    top = pop.top(2, at=T)
    assert [item for item, _ in top] == ["new", "old"]
    assert top[0][1] == pytest.approx(3.0) and top[1][1] == pytest.approx(0.75)


def test_scores_halve_every_half_life(pop: Popularity) -> None:
    pop.record("a", at=T)
    assert dict(pop.top(1, at=T + 24 * HOUR)) == {"a": pytest.approx(0.5)}
    assert dict(pop.top(1, at=T + 72 * HOUR)) == {"a": pytest.approx(0.125)}


def test_one_fresh_event_ties_two_events_one_half_life_older(pop: Popularity) -> None:
    pop.record_many([("fresh", None, 1.0)], at=T)
    pop.record_many([("older", None, 1.0), ("older", None, 1.0)], at=T - 24 * HOUR)
    scores = dict(pop.top(2, at=T + HOUR))
    assert scores["fresh"] == pytest.approx(scores["older"])


def test_category_ranking_only_holds_that_categorys_items(pop: Popularity) -> None:
    pop.record("shoe1", at=T, category="shoes")
    pop.record("shoe2", at=T, category="shoes", weight=2.0)
    pop.record("hat1", at=T, category="hats", weight=5.0)
    assert [item for item, _ in pop.top(10, at=T, category="shoes")] == ["shoe2", "shoe1"]
    assert [item for item, _ in pop.top(1, at=T)] == ["hat1"]
    assert pop.top(10, at=T, category="socks") == []


def test_history_survives_the_move_to_the_next_era(pop: Popularity) -> None:
    next_era_start = landmark(era_of(T, CONFIG) + 1, CONFIG)
    pop.record("a", at=next_era_start - 12 * HOUR, category="c")
    pop.record("b", at=next_era_start + HOUR, category="c")
    top = dict(pop.top(5, at=next_era_start + 12 * HOUR, category="c"))
    assert top["a"] == pytest.approx(0.5)
    assert top["b"] == pytest.approx(2 ** (-11 / 24))


def test_popularity_keys_expire_after_two_eras(pop: Popularity, real_client: redis.Redis) -> None:
    pop.record("a", at=T, category="c")
    keys = list(real_client.scan_iter("pop:*"))
    assert len(keys) == 4  # global + category, this era and the next
    assert all(0 < cast(int, real_client.ttl(key)) <= CONFIG.ttl for key in keys)
