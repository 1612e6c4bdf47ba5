"""bench/retrieval.py's helpers: recall against exact search, and the synthetic catalogs."""

from __future__ import annotations

import numpy as np
import pytest

from bench.retrieval import GOAL_P99_MS, Row, draw, markdown, mixture_centres, recall_at_k


def test_recall_counts_the_exact_rows_found_in_any_order() -> None:
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[4, 3, 2, 1], [5, 6, 9, -1]])
    assert recall_at_k(found, truth) == pytest.approx((1.0 + 0.5) / 2)


def test_recall_ignores_missing_truth_rows() -> None:
    # a catalog smaller than k: exact search pads with -1, which is not a miss
    assert recall_at_k(np.array([[0, 1, -1]]), np.array([[1, 0, -1]])) == 1.0


def test_both_catalogs_are_unit_vectors_and_the_mixture_is_clustered() -> None:
    rng = np.random.default_rng(0)
    uniform = draw(rng, 2000, 16)
    centres, weights = mixture_centres(rng, 8, 16)
    clustered = draw(rng, 2000, 16, centres, weights, spread=0.3)
    for vectors in (uniform, clustered):
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert weights.sum() == pytest.approx(1.0)
    # each mixture vector sits close to some centre; uniform ones do not
    assert (clustered @ centres.T).max(axis=1).mean() > 0.9
    assert (uniform @ centres.T).max(axis=1).mean() < 0.7


def test_the_table_says_which_goal_a_setting_misses_and_by_how_much() -> None:
    ok = Row("c", "IVF1024,Flat", "nprobe 8", 0.99, 0.2, 0.5, 1.0, 10.0)
    slow = Row("c", "HNSW32,Flat", "efSearch 800", 0.98, 1.4, 2 * GOAL_P99_MS, 1.0, 10.0)
    poor = Row("u", "IVF4096,Flat", "nprobe 8", 0.5, 0.1, 0.2, 1.0, 10.0)
    table = markdown([ok, slow, poor]).splitlines()
    assert table[2].endswith("| **yes** |")
    assert table[3].endswith("| no: p99 2.00x |")
    assert table[4].endswith("| no: recall -0.450 |")
