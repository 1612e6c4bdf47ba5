"""Metrics on hand-made cases whose values are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_workloads.evaluation.metrics import auc, logloss, ndcg_at_k, recall_at_k
from recsys_workloads.evaluation.retrieval import rank_by_scores, rerank

RANKED = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])


def test_recall_counts_relevant_items_found_in_the_top_k() -> None:
    relevant = [np.array([2, 9]), np.array([8])]
    assert recall_at_k(RANKED, relevant, 2) == pytest.approx((0.5 + 0.0) / 2)
    assert recall_at_k(RANKED, relevant, 4) == pytest.approx((0.5 + 1.0) / 2)


def test_queries_without_relevant_items_are_skipped() -> None:
    assert recall_at_k(RANKED, [np.array([1]), np.array([], dtype=np.int64)], 1) == 1.0
    assert math.isnan(recall_at_k(RANKED, [np.array([], dtype=np.int64)] * 2, 1))


def test_ndcg_discounts_hits_by_position() -> None:
    # one relevant item at rank 2: DCG = 1/log2(3), ideal = 1
    assert ndcg_at_k(RANKED[:1], [np.array([2])], 4) == pytest.approx(1 / math.log2(3))
    # two relevant at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2(3))
    assert ndcg_at_k(RANKED[:1], [np.array([1, 3])], 4) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(RANKED[:1], [np.array([1, 2])], 2) == pytest.approx(1.0)


def test_auc_is_the_share_of_correctly_ordered_pairs_with_ties_counting_half() -> None:
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert auc([1, 1, 0], [0.9, 0.2, 0.2]) == pytest.approx(0.75)
    assert math.isnan(auc([1, 1], [0.1, 0.2]))


def test_logloss_matches_the_formula_and_clips_certain_mistakes() -> None:
    assert logloss([1, 0], [0.8, 0.4]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert np.isfinite(logloss([1], [0.0]))


def test_rank_by_scores_and_rerank_order_best_first() -> None:
    scores = np.array([[0.1, 0.9, 0.5], [3.0, 1.0, 2.0]])
    assert rank_by_scores(scores, 2).tolist() == [[1, 2], [0, 2]]
    candidates = np.array([[10, 11, 12]])
    assert rerank(candidates, np.array([[0.2, 0.1, 0.9]], dtype=np.float32), 3).tolist() == [[12, 10, 11]]
