"""Reranking: per-category cap, and a temperature that means what it says."""

from __future__ import annotations

import numpy as np

from recsys_workloads.serving.rerank import request_seed, rerank

SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
CATS = np.array([1, 1, 1, 2, 2, 3, 3, 3])


def test_zero_temperature_is_greedy_by_score() -> None:
    assert rerank(SCORES[::-1], CATS, 3).tolist() == [7, 6, 5]


def test_category_cap_skips_a_full_category_then_fills_in_score_order() -> None:
    assert rerank(SCORES, CATS, 4, category_cap=1).tolist() == [0, 3, 5, 1]
    chosen = rerank(SCORES, CATS, 6, category_cap=2)
    assert chosen.tolist() == [0, 1, 3, 4, 5, 6]
    assert max(np.bincount(CATS[chosen])) <= 2


def test_ranking_top_k_limits_the_pool() -> None:
    assert set(rerank(SCORES, CATS, 8, top_k=3).tolist()) == {0, 1, 2}


def test_tiny_temperature_samples_greedily() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert rerank(SCORES, CATS, 3, temperature=1e-6, rng=rng).tolist() == [0, 1, 2]


def test_huge_temperature_samples_uniformly() -> None:
    rng = np.random.default_rng(1)
    firsts = np.bincount([rerank(SCORES, CATS, 1, temperature=1e6, rng=rng)[0] for _ in range(4000)])
    assert firsts.min() > 4000 / 8 * 0.8  # every candidate first about 1/8 of the time


def test_moderate_temperature_favours_high_scores_but_varies() -> None:
    rng = np.random.default_rng(2)
    firsts = [rerank(SCORES * 10, CATS, 1, temperature=1.0, rng=rng)[0] for _ in range(2000)]
    counts = np.bincount(firsts, minlength=8)
    assert counts[0] > counts[1] > counts[3] > 0


def test_sampling_is_reproducible_per_request_seed() -> None:
    seed = request_seed("u1", 1_700_000_000)
    a = rerank(SCORES, CATS, 5, 2, 0.5, np.random.default_rng(seed))
    b = rerank(SCORES, CATS, 5, 2, 0.5, np.random.default_rng(seed))
    assert a.tolist() == b.tolist()
    assert seed != request_seed("u2", 1_700_000_000)


def test_cap_reaches_beyond_the_ranking_top_k_for_other_categories() -> None:
    assert rerank(SCORES, CATS, 4, category_cap=1, top_k=3).tolist() == [0, 3, 5, 1]
