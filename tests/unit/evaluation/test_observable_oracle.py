"""The observable oracle on a tiny generated world: full oracle where history reveals the
persona, the activity-weighted pool average where only context (and gender) is seen."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from recsys_workloads.data.generator import GeneratorConfig, build_world
from recsys_workloads.data.ground_truth import GroundTruth, true_affinity
from recsys_workloads.evaluation.retrieval import (
    RetrievalTask,
    observable_oracle_ranking,
    oracle_ranking,
    pool_members,
    pool_sample,
    rank_by_scores,
)
from recsys_workloads.features import transform as ft
from recsys_workloads.features.tables import Catalog
from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, RESERVED
from recsys_workloads.vocab import DEVICE_TYPES

DAY = 2
K = 20
DAY_START = 1_767_571_200 + DAY * 86_400  # 2026-01-05 (the generator's start) + DAY, UTC


@pytest.fixture(scope="module")
def truth() -> GroundTruth:
    return build_world(GeneratorConfig(users=300, items=150, days=4, images=False, seed=5))[1]


@pytest.fixture(scope="module")
def catalog(truth: GroundTruth) -> Catalog:
    """Catalog rows in reverse truth order, so a missed truth → catalog mapping shows."""
    it = truth.items
    order = np.arange(len(it.item_ids))[::-1]
    n = len(order)
    return Catalog(
        item_ids=it.item_ids[order].astype(object),
        category_l1=np.array(it.categories, dtype=object)[it.category[order]],
        category_l2=np.full(n, "x", dtype=object),
        item_gender=np.full(n, "Any", dtype=object),
        price=it.price[order],
        first_day=it.first_day[order].astype(np.int64),
        descriptions=np.full(n, "", dtype=object),
    )


def _task(
    truth: GroundTruth, codes: list[int], segments: list[str], hours: list[int], has_history: list[bool]
) -> RetrievalTask:
    n = len(codes)
    recent = np.full((n, 5), ANONYMOUS_INDEX, dtype=np.int64)
    recent[np.array(has_history), 0] = RESERVED  # one known recent item
    return RetrievalTask(
        query={ft.RECENT_ITEMS: recent},
        relevant=[np.array([0], dtype=np.int64)] * n,
        segment=np.array(segments, dtype=object),
        visitor=truth.visitors.visitor_ids[np.array(codes)].astype(object),
        timestamp=DAY_START + np.array(hours, dtype=np.int64) * 3600 + 120,
        device=np.array([DEVICE_TYPES[0]] * n, dtype=object),
        day=DAY,
        new_items=np.zeros(len(truth.items.item_ids), dtype=bool),
    )


def _pooled(truth: GroundTruth, catalog: Catalog, members: npt.NDArray[np.int64], hour: int) -> list[int]:
    """Direct computation: activity-weighted mean true affinity of `members`, ranked."""
    weekday = (DAY_START // 86_400 + ft.EPOCH_WEEKDAY) % 7
    affinity = true_affinity(truth, members, hour=hour, weekday=weekday, device=0, day=DAY)
    weights = truth.visitors.activity[members]
    scores = (weights[:, None] * affinity).sum(axis=0) / weights.sum()
    ranked = catalog.rows(truth.items.item_ids.tolist())[rank_by_scores(scores, K)[0]]
    return [int(r) for r in ranked]


def _present(truth: GroundTruth) -> npt.NDArray[np.bool_]:
    return np.asarray(truth.visitors.first_day <= DAY)


def test_registered_users_and_new_users_with_history_get_the_full_oracle(
    truth: GroundTruth, catalog: Catalog
) -> None:
    v = truth.visitors
    known = np.flatnonzero(~v.anonymous & (v.first_day == 0))[:3].tolist()
    late = np.flatnonzero(~v.anonymous & (v.first_day == DAY))[:1].tolist()
    task = _task(truth, known + late, ["registered"] * 3 + ["new"], [9, 14, 21, 9], [True] * 4)
    observable = observable_oracle_ranking(task, truth, catalog, K)
    assert np.array_equal(observable, oracle_ranking(task, truth, catalog, K))


def test_anonymous_visitors_get_the_activity_weighted_average_of_the_anonymous_pool(
    truth: GroundTruth, catalog: Catalog
) -> None:
    v = truth.visitors
    pool = np.flatnonzero(v.anonymous & _present(truth))
    assert len(pool) < len(np.flatnonzero(v.anonymous))  # some arrive later: they must be left out
    first = int(pool[0])
    other = int(next(p for p in pool if v.persona[p] != v.persona[first]))
    task = _task(truth, [first, other, first], ["anonymous"] * 3, [9, 9, 21], [False] * 3)
    observable = observable_oracle_ranking(task, truth, catalog, K)
    assert observable[0].tolist() == _pooled(truth, catalog, pool, 9)
    assert observable[2].tolist() == _pooled(truth, catalog, pool, 21)
    # Two anonymous visitors with different personas look the same to a model ...
    assert np.array_equal(observable[0], observable[1])
    # ... while the full oracle tells them apart, so it is no ceiling for them.
    oracle = oracle_ranking(task, truth, catalog, K)
    assert not np.array_equal(oracle[0], oracle[1])
    assert not np.array_equal(observable[:2], oracle[:2])


def test_new_users_without_history_get_the_average_of_registered_visitors_of_their_gender(
    truth: GroundTruth, catalog: Catalog
) -> None:
    v = truth.visitors
    registered = ~v.anonymous & _present(truth)
    man = int(np.flatnonzero(registered & (v.gender == 0) & (v.first_day == DAY))[0])
    woman = int(np.flatnonzero(registered & (v.gender == 1) & (v.first_day == DAY))[0])
    task = _task(truth, [man, woman], ["new", "new"], [13, 13], [False, False])
    observable = observable_oracle_ranking(task, truth, catalog, K)
    assert observable[0].tolist() == _pooled(truth, catalog, np.flatnonzero(registered & (v.gender == 0)), 13)
    assert observable[1].tolist() == _pooled(truth, catalog, np.flatnonzero(registered & (v.gender == 1)), 13)
    assert not np.array_equal(observable[0], observable[1])


def test_pools_hold_present_visitors_and_big_pools_are_sampled_deterministically(
    truth: GroundTruth, catalog: Catalog
) -> None:
    v = truth.visitors
    women = pool_members(truth, 2, DAY)  # NEW_USER_POOL + gender 1
    assert set(women.tolist()) == set(
        np.flatnonzero(~v.anonymous & (v.gender == 1) & _present(truth)).tolist()
    )
    members, weights = pool_sample(women, v.activity, 8, seed=3)
    assert len(members) <= 8 and set(members.tolist()) <= set(women.tolist())
    assert weights.sum() == pytest.approx(1.0)
    everyone, exact = pool_sample(women, v.activity, len(women), seed=3)
    assert np.array_equal(everyone, women)
    assert np.allclose(exact, v.activity[women] / v.activity[women].sum())

    anonymous = [int(c) for c in np.flatnonzero(v.anonymous & _present(truth))[:4]]
    task = _task(truth, anonymous, ["anonymous"] * 4, [8, 8, 20, 20], [False] * 4)
    small = observable_oracle_ranking(task, truth, catalog, K, pool_size=8, seed=1)
    assert np.array_equal(small, observable_oracle_ranking(task, truth, catalog, K, pool_size=8, seed=1))
    full = observable_oracle_ranking(task, truth, catalog, K)
    assert not np.array_equal(small, full)  # 8 draws are a coarse estimate of the pool ...
    overlap = np.mean([len(set(a) & set(b)) / K for a, b in zip(small.tolist(), full.tolist(), strict=True)])
    assert overlap > 0.3  # ... of the same distribution
