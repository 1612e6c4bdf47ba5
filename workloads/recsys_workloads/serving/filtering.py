"""Step 7: drop what the visitor saw recently or asked to exclude; backfill from popularity.

Valkey down → nothing is dropped by the seen filter, `filter_skipped` says so. When fewer
than `need` candidates survive, the most popular unseen items are appended (they are then
ranked like the rest), so an empty candidate set still yields a full homepage.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys_workloads.online.seen_filter import BitmapSeenFilter, SeenFilter, contains_or_passthrough
from recsys_workloads.serving.item_cache import ItemCache, Rows

PopularSource = Callable[[int], list[str]]
"""`n` → up to `n` most popular item ids, best first (empty if unknown)."""


@dataclass(frozen=True)
class FilteredCandidates:
    rows: Rows
    filter_skipped: bool
    backfilled: int = 0


def _unseen(
    cache: ItemCache, rows: Rows, seen_filter: SeenFilter | None, user_key: str, at: float
) -> tuple[npt.NDArray[np.bool_], bool]:
    if not user_key or len(rows) == 0:
        return np.ones(len(rows), dtype=np.bool_), False
    if seen_filter is None:
        return np.ones(len(rows), dtype=np.bool_), True
    positions = None
    if isinstance(seen_filter, BitmapSeenFilter):  # hashed once per catalog, not per request
        positions = cache.seen_positions(seen_filter.bits, seen_filter.hashes)[rows]
    result = contains_or_passthrough(seen_filter, user_key, cache.item_ids[rows].tolist(), at, positions)
    return ~result.seen, result.filter_skipped


def filter_candidates(
    cache: ItemCache,
    rows: Rows,
    seen_filter: SeenFilter | None,
    user_key: str,
    at: float,
    exclude: Collection[str] = (),
    need: int = 0,
    popular: PopularSource | None = None,
    overfetch: int = 4,
) -> FilteredCandidates:
    """Candidates minus seen (one Valkey round trip) and excluded items, backfilled to `need`."""
    rows = np.asarray(rows, dtype=np.int64)
    excluded = cache.rows(list(exclude)) if exclude else np.empty(0, dtype=np.int64)
    if len(excluded):
        rows = rows[~np.isin(rows, excluded)]
    keep, skipped = _unseen(cache, rows, seen_filter, user_key, at)
    rows = rows[keep]
    if len(rows) >= need or popular is None:
        return FilteredCandidates(rows, skipped)
    extra = cache.rows(popular(need * overfetch))
    extra = extra[~np.isin(extra, np.concatenate([rows, excluded]))]
    extra_keep, extra_skipped = _unseen(cache, extra, seen_filter, user_key, at)
    extra = extra[extra_keep][: need - len(rows)]
    return FilteredCandidates(np.concatenate([rows, extra]), skipped or extra_skipped, len(extra))
