"""Held-out retrieval task and the rankings compared on it (popularity, oracle, models)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from recsys_workloads.data.ground_truth import GroundTruth, true_affinity
from recsys_workloads.features import transform as ft
from recsys_workloads.features.fit import history_before, query_features
from recsys_workloads.features.tables import Catalog, Interactions, Users
from recsys_workloads.features.vocabulary import OOV_INDEX
from recsys_workloads.vocab import DEVICE_TYPES

SEGMENTS: Final = ("registered", "new", "anonymous")
Ranked = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RetrievalTask:
    """One query per (visitor, day): the context of the visitor's first click that day,
    history as of the start of the day; relevant = every item the visitor clicked that day."""

    query: ft.Features
    relevant: list[npt.NDArray[np.int64]]
    segment: npt.NDArray[np.object_]
    visitor: npt.NDArray[np.object_]
    timestamp: npt.NDArray[np.int64]
    device: npt.NDArray[np.object_]
    day: int

    def __len__(self) -> int:
        return len(self.relevant)


def retrieval_task(
    t: ft.FittedTransforms,
    catalog: Catalog,
    users: Users,
    history_source: Interactions,
    rows: Interactions,
    day: int,
    max_queries: int | None = None,
    seed: int = 0,
) -> RetrievalTask:
    clicks = rows.select(rows.clicked & (rows.day == day))
    visitors = clicks.visitor.astype(str)
    unique, first = np.unique(visitors, return_index=True)  # rows are time-sorted: first = first click
    if max_queries is not None and len(unique) > max_queries:
        keep = np.sort(np.random.default_rng(seed).choice(len(unique), max_queries, replace=False))
        unique, first = unique[keep], first[keep]
    item_rows = catalog.rows(clicks.item_id)
    position = {v: i for i, v in enumerate(unique.tolist())}
    relevant: list[list[int]] = [[] for _ in unique]
    for v, r in zip(visitors.tolist(), item_rows.tolist(), strict=True):
        if v in position:
            relevant[position[v]].append(r)
    user_ids = clicks.user_id[first].tolist()
    history = history_before(history_source, catalog, day, t.recent_items)
    query = query_features(
        t, users, user_ids, clicks.timestamp[first], clicks.device[first].tolist(), history
    )
    segment = np.where(
        np.array([u is None for u in user_ids]),
        "anonymous",
        np.where(query[ft.USER_ID] == OOV_INDEX, "new", "registered"),
    ).astype(object)
    return RetrievalTask(
        query=query,
        relevant=[np.unique(np.array(r, dtype=np.int64)) for r in relevant],
        segment=segment,
        visitor=unique.astype(object),
        timestamp=clicks.timestamp[first],
        device=clicks.device[first],
        day=day,
    )


def popularity_scores(clicks: Interactions, catalog: Catalog) -> npt.NDArray[np.float64]:
    return np.bincount(catalog.rows(clicks.item_id), minlength=len(catalog)).astype(np.float64)


def rank_by_scores(scores: npt.NDArray[np.float64], k: int) -> Ranked:
    """Top-k columns of each row of `scores`, best first (ties by row order)."""
    s = np.atleast_2d(scores)
    k = min(k, s.shape[1])
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1).astype(np.int64)


def popularity_ranking(task: RetrievalTask, popularity: npt.NDArray[np.float64], k: int) -> Ranked:
    return np.repeat(rank_by_scores(popularity, k), len(task), axis=0)


def oracle_ranking(task: RetrievalTask, truth: GroundTruth, catalog: Catalog, k: int) -> Ranked:
    """Rank by the generator's true P(item | visitor, context): the ceiling of any model."""
    code = {v: i for i, v in enumerate(truth.visitors.visitor_ids.tolist())}
    visitors = np.array([code[v] for v in task.visitor.tolist()], dtype=np.int64)
    hour = (task.timestamp // 3600) % 24
    weekday = (task.timestamp // 86_400 + ft.EPOCH_WEEKDAY) % 7
    device_code = {d: i for i, d in enumerate(DEVICE_TYPES)}
    device = np.array([device_code.get(str(d), 0) for d in task.device.tolist()], dtype=np.int64)
    catalog_row = catalog.rows(truth.items.item_ids.tolist())  # truth column → catalog row
    ranked = np.zeros((len(task), min(k, len(catalog))), dtype=np.int64)
    for start in range(0, len(task), 512):
        part = slice(start, start + 512)
        affinity = true_affinity(
            truth, visitors[part], hour=hour[part], weekday=weekday[part], device=device[part], day=task.day
        )
        ranked[part] = catalog_row[rank_by_scores(affinity, k)]
    return ranked


def rerank(candidates: Ranked, scores: npt.NDArray[np.float32], k: int) -> Ranked:
    """Reorder retrieved candidates by ranker scores (same shape as `candidates`)."""
    order = rank_by_scores(scores.astype(np.float64), k)
    return np.take_along_axis(candidates, order, axis=1)


def segment_masks(task: RetrievalTask) -> Mapping[str, npt.NDArray[np.bool_]]:
    masks = {"all": np.ones(len(task), dtype=bool)}
    masks.update({s: task.segment == s for s in SEGMENTS})
    return masks
