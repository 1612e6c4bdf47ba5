"""Held-out retrieval task and the rankings compared on it (popularity, oracles, models)."""

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
from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, OOV_INDEX
from recsys_workloads.vocab import DEVICE_TYPES

SEGMENTS: Final = ("registered", "new", "anonymous")
NEW_ITEMS: Final = "new_items"
"""Item-side cold start: queries restricted to the clicked items the models never trained on."""
OBSERVABLE_POOL_SIZE: Final = 256
Ranked = npt.NDArray[np.int64]
IntArray = npt.NDArray[np.int64]


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
    new_items: npt.NDArray[np.bool_]  # per catalog row: item id out of the fitted vocabulary

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
    history = history_before(history_source, catalog, day, t.recent_items, t.history_memory_s)
    query_visitors = clicks.visitor[first].tolist()
    query = query_features(
        t, users, user_ids, clicks.timestamp[first], clicks.device[first].tolist(), history, query_visitors
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
        new_items=t.vocabularies[ft.ITEM_ID].lookup(catalog.item_ids.tolist()) == OOV_INDEX,
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


def _visitor_codes(task: RetrievalTask, truth: GroundTruth) -> IntArray:
    code = {v: i for i, v in enumerate(truth.visitors.visitor_ids.tolist())}
    return np.array([code[v] for v in task.visitor.tolist()], dtype=np.int64)


def _context(task: RetrievalTask) -> tuple[IntArray, IntArray, IntArray]:
    """Hour (UTC), weekday (0 = Monday) and device code of each query, as the generator uses them."""
    hour = (task.timestamp // 3600) % 24
    weekday = (task.timestamp // 86_400 + ft.EPOCH_WEEKDAY) % 7
    device_code = {d: i for i, d in enumerate(DEVICE_TYPES)}
    device = np.array([device_code.get(str(d), 0) for d in task.device.tolist()], dtype=np.int64)
    return hour.astype(np.int64), weekday.astype(np.int64), device


def _truth_to_catalog(truth: GroundTruth, catalog: Catalog) -> IntArray:
    return catalog.rows(truth.items.item_ids.tolist())  # truth column → catalog row


def oracle_ranking(task: RetrievalTask, truth: GroundTruth, catalog: Catalog, k: int) -> Ranked:
    """Rank by the generator's true P(item | visitor, context): the ceiling of any model."""
    visitors = _visitor_codes(task, truth)
    hour, weekday, device = _context(task)
    catalog_row = _truth_to_catalog(truth, catalog)
    ranked = np.zeros((len(task), min(k, len(catalog))), dtype=np.int64)
    for start in range(0, len(task), 512):
        part = slice(start, start + 512)
        affinity = true_affinity(
            truth, visitors[part], hour=hour[part], weekday=weekday[part], device=device[part], day=task.day
        )
        ranked[part] = catalog_row[rank_by_scores(affinity, k)]
    return ranked


OWN_PERSONA: Final = -1
ANONYMOUS_POOL: Final = 0
NEW_USER_POOL: Final = 1  # + gender code (0 M, 1 F)
_AFFINITY_ROWS: Final = 4_096  # visitor rows per true_affinity call (rows x items float64 in memory)
_KEY_CONTEXT: Final = ((1, "hour"), (2, "weekday"), (3, "device"))  # columns of the observable key


def observable_pools(task: RetrievalTask, truth: GroundTruth) -> IntArray:
    """Which visitors a model cannot tell each query's visitor apart from.

    OWN_PERSONA: a known user or one with history (the history reveals the persona);
    ANONYMOUS_POOL: an anonymous visitor (only the context is seen); NEW_USER_POOL + gender:
    a new user without history (the profile adds gender, which the generator uses).
    """
    codes = _visitor_codes(task, truth)
    no_history = (np.asarray(task.query[ft.RECENT_ITEMS]) == ANONYMOUS_INDEX).all(axis=1)
    pools = np.full(len(task), OWN_PERSONA, dtype=np.int64)
    pools[(task.segment == "new") & no_history] = NEW_USER_POOL
    pools[pools == NEW_USER_POOL] += truth.visitors.gender[codes[pools == NEW_USER_POOL]]
    pools[task.segment == "anonymous"] = ANONYMOUS_POOL
    return pools


def pool_members(truth: GroundTruth, pool: int, day: int) -> IntArray:
    """Visitor codes of a pool on `day`: visitors already present, anonymous or registered of one gender."""
    v = truth.visitors
    present = v.first_day <= day
    if pool == ANONYMOUS_POOL:
        return np.flatnonzero(present & v.anonymous).astype(np.int64)
    gender = pool - NEW_USER_POOL
    return np.flatnonzero(present & ~v.anonymous & (v.gender == gender)).astype(np.int64)


def pool_sample(
    members: IntArray, activity: npt.NDArray[np.float64], size: int, seed: int
) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """Members and weights (summing to 1) whose weighted mean estimates the activity-weighted one.

    Up to `size` members: all of them, weighted by activity (exact). More: `size` draws with
    probability ∝ activity (seeded), weighted by how often each was drawn (unbiased).
    """
    if len(members) == 0:
        raise ValueError("empty visitor pool")
    w = activity[members]
    if len(members) <= size:
        return members, w / w.sum()
    drawn = np.random.default_rng(seed).choice(len(members), size, p=w / w.sum())
    unique, counts = np.unique(drawn, return_counts=True)
    return members[unique], counts / size


def observable_oracle_ranking(
    task: RetrievalTask,
    truth: GroundTruth,
    catalog: Catalog,
    k: int,
    *,
    pool_size: int = OBSERVABLE_POOL_SIZE,
    seed: int = 0,
) -> Ranked:
    """The best ranking any model can make from what it observes: the fair ceiling per segment.

    `oracle_ranking` uses the hidden persona, which an anonymous visitor or a new user
    without history never reveals. For them the Bayes-optimal score is the true affinity
    averaged over the visitors they may be (`observable_pools`, activity-weighted: active
    visitors come more often) at the query's own context; everyone else gets the full oracle.
    Queries sharing (pool, hour, weekday, device) are scored once, each pool over at most
    `pool_size` sampled visitors (`pool_sample`), so the cost does not grow with the shop.
    """
    pools = observable_pools(task, truth)
    hour, weekday, device = _context(task)
    catalog_row = _truth_to_catalog(truth, catalog)
    ranked = np.zeros((len(task), min(k, len(catalog))), dtype=np.int64)
    own = pools == OWN_PERSONA
    if own.any():
        ranked[own] = oracle_ranking(_take_queries(task, own), truth, catalog, k)
    if own.all():
        return ranked
    keys, inverse = np.unique(
        np.stack([pools, hour, weekday, device], axis=1)[~own], axis=0, return_inverse=True
    )
    scores = np.zeros((len(keys), len(truth.items.item_ids)))
    for pool in np.unique(keys[:, 0]).tolist():
        members, weights = pool_sample(
            pool_members(truth, pool, task.day), truth.visitors.activity, pool_size, seed + pool
        )
        rows = np.flatnonzero(keys[:, 0] == pool)
        step = max(1, _AFFINITY_ROWS // len(members))  # several keys per call share its stratum cache
        for chunk in np.array_split(rows, -(-len(rows) // step)):
            context = {name: np.repeat(keys[chunk, c], len(members)) for c, name in _KEY_CONTEXT}
            affinity = true_affinity(truth, np.tile(members, len(chunk)), **context, day=task.day)
            scores[chunk] = np.einsum("m,kmi->ki", weights, affinity.reshape(len(chunk), len(members), -1))
    ranked[~own] = catalog_row[rank_by_scores(scores, k)][inverse.reshape(-1)]
    return ranked


def _take_queries(task: RetrievalTask, mask: npt.NDArray[np.bool_]) -> RetrievalTask:
    return RetrievalTask(
        query=ft.take(task.query, mask),
        relevant=[r for r, m in zip(task.relevant, mask, strict=True) if m],
        segment=task.segment[mask],
        visitor=task.visitor[mask],
        timestamp=task.timestamp[mask],
        device=task.device[mask],
        day=task.day,
        new_items=task.new_items,
    )


def rerank(candidates: Ranked, scores: npt.NDArray[np.float32], k: int) -> Ranked:
    """Reorder retrieved candidates by ranker scores (same shape as `candidates`)."""
    order = rank_by_scores(scores.astype(np.float64), k)
    return np.take_along_axis(candidates, order, axis=1)


def segment_masks(task: RetrievalTask) -> Mapping[str, npt.NDArray[np.bool_]]:
    masks = {"all": np.ones(len(task), dtype=bool)}
    masks.update({s: task.segment == s for s in SEGMENTS})
    return masks


@dataclass(frozen=True)
class Segment:
    """The queries a report row averages over and what counts as relevant for each of them."""

    mask: npt.NDArray[np.bool_]
    relevant: list[npt.NDArray[np.int64]]


def segments(task: RetrievalTask) -> dict[str, Segment]:
    """User segments (all relevant items) and NEW_ITEMS: the queries that clicked an item the
    models never trained on, relevant restricted to those items."""
    out = {
        name: Segment(mask, [r for r, m in zip(task.relevant, mask, strict=True) if m])
        for name, mask in segment_masks(task).items()
    }
    new = [r[task.new_items[r]] for r in task.relevant]
    mask = np.array([len(r) > 0 for r in new], dtype=bool)
    out[NEW_ITEMS] = Segment(mask, [r for r, m in zip(new, mask, strict=True) if m])
    return out
