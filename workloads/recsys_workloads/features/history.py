"""User features derived from click history: top category and recent distinct items (pure NumPy).

Training takes a snapshot from the days before each example's day (point-in-time correct
at day granularity); the event service keeps the same two features current online.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class UserHistory:
    top_category: Mapping[str, str]
    recent_items: Mapping[str, tuple[str, ...]]  # most recent first, distinct

    def lookup(self, user_ids: Sequence[str | None]) -> tuple[list[str | None], list[tuple[str, ...]]]:
        """Unknown and anonymous (None) users get no history: the anonymous buckets."""
        tops = [self.top_category.get(u) if u is not None else None for u in user_ids]
        recent = [self.recent_items.get(u, ()) if u is not None else () for u in user_ids]
        return tops, recent


EMPTY_HISTORY = UserHistory({}, {})


def user_history(
    user_ids: ObjectArray,
    item_ids: ObjectArray,
    timestamps: npt.NDArray[np.int64],
    item_category: Mapping[str, str],
    recent: int,
) -> UserHistory:
    """Clicks of registered users (None user ids are skipped); ties resolve deterministically."""
    known = np.array([u is not None for u in user_ids], dtype=bool)
    if not known.any():
        return EMPTY_HISTORY
    users, user_code = np.unique(user_ids[known].astype(str), return_inverse=True)
    items, item_code = np.unique(item_ids[known].astype(str), return_inverse=True)
    ts = timestamps[known]
    # Latest click per (user, item), then the `recent` latest distinct items per user.
    order = np.lexsort((item_code, -ts, user_code))
    pair = user_code[order].astype(np.int64) * len(items) + item_code[order]
    _, first = np.unique(pair, return_index=True)
    first.sort()
    rows = order[first]
    u, it = user_code[rows], item_code[rows]
    starts = np.r_[0, np.flatnonzero(u[1:] != u[:-1]) + 1]
    rank = np.arange(len(u)) - np.repeat(starts, np.diff(np.r_[starts, len(u)]))
    recent_map: dict[str, list[str]] = {}
    for user, item in zip(u[rank < recent].tolist(), it[rank < recent].tolist(), strict=True):
        recent_map.setdefault(str(users[user]), []).append(str(items[item]))
    categories, cat_code = np.unique(
        np.array([item_category.get(str(i), "") for i in items], dtype=object).astype(str),
        return_inverse=True,
    )
    counts = np.zeros((len(users), len(categories)), dtype=np.int64)
    np.add.at(counts, (user_code, cat_code[item_code]), 1)
    top = counts.argmax(axis=1)
    return UserHistory(
        top_category={str(users[i]): str(categories[top[i]]) for i in range(len(users))},
        recent_items={k: tuple(v) for k, v in recent_map.items()},
    )
