"""Ranking and classification metrics in NumPy, so the same numbers come out of training,
the pipeline report and the benchmark, whatever framework produced the scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Ranked = npt.NDArray[np.int64]
Relevant = Sequence[npt.ArrayLike]


def _hits(ranked: Ranked, relevant: Relevant, k: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    top = np.asarray(ranked)[:, :k]
    hits = np.zeros(top.shape, dtype=bool)
    sizes = np.zeros(len(top), dtype=np.int64)
    for row, items in enumerate(relevant):
        wanted = np.unique(np.asarray(items, dtype=np.int64))
        sizes[row] = len(wanted)
        hits[row] = np.isin(top[row], wanted)
    return hits, sizes


def recall_at_k(ranked: Ranked, relevant: Relevant, k: int) -> float:
    """Mean over queries of |top-k ∩ relevant| / |relevant|; queries without relevant items are skipped."""
    hits, sizes = _hits(ranked, relevant, k)
    keep = sizes > 0
    if not keep.any():
        return float("nan")
    return float(np.mean(hits[keep].sum(axis=1) / sizes[keep]))


def ndcg_at_k(ranked: Ranked, relevant: Relevant, k: int) -> float:
    """Binary-gain NDCG@k: DCG of the ranking over the DCG of a perfect one."""
    hits, sizes = _hits(ranked, relevant, k)
    keep = sizes > 0
    if not keep.any():
        return float("nan")
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = (hits * discounts).sum(axis=1)
    ideal = np.array([discounts[: min(int(s), hits.shape[1])].sum() for s in sizes])
    return float(np.mean(dcg[keep] / ideal[keep]))


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """ROC AUC as the Mann-Whitney statistic with average ranks for ties."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_scores = s[order]
    ranks = np.empty(len(s), dtype=np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2.0  # average of 1-based ranks a+1..b
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def logloss(labels: npt.ArrayLike, probabilities: npt.ArrayLike, eps: float = 1e-7) -> float:
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))
