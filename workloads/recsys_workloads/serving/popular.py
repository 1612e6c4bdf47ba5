"""Popularity recommendations minus the user's seen items: the cold-start and fallback path.

Anonymous visitors, brand-new users and an empty candidate set after filtering all end
here; so does a request when the ranking models are unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import SeenFilter, contains_or_passthrough
from recsys_workloads.vocab import ANONYMOUS_PREFIX


@dataclass(frozen=True)
class Recommendations:
    item_ids: list[str]
    scores: NDArray[np.float32]
    filter_skipped: bool = False
    popularity_fallback: bool = False


def is_anonymous(user_id: str) -> bool:
    return not user_id or user_id.startswith(ANONYMOUS_PREFIX)


def recommend_popular(
    popularity: Popularity,
    seen_filter: SeenFilter | None,
    user_id: str,
    at: float,
    k: int,
    overfetch: int = 4,
    category: str | None = None,
    default: list[tuple[str, float]] | None = None,
) -> Recommendations:
    """Top `k` decayed-popular items the user has not interacted with in the filter window.

    Fetches `overfetch * k` candidates so that heavy users still get `k` unseen items in
    one round trip; falls back to `default` (flagged) when the store is down.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    read = popularity.top_or_default(k * overfetch, at, category, default)
    ids = [item for item, _ in read.items]
    scores = np.array([score for _, score in read.items], dtype=np.float32)
    filter_skipped = read.fallback
    if ids and seen_filter is not None and not is_anonymous(user_id):
        result = contains_or_passthrough(seen_filter, user_id, ids, at)
        keep = ~result.seen
        ids = [item for item, kept in zip(ids, keep, strict=True) if kept]
        scores = scores[keep]
        filter_skipped = filter_skipped or result.filter_skipped
    return Recommendations(ids[:k], scores[:k], filter_skipped, read.fallback)
