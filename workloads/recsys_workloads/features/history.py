"""What the online store knows of a visitor at a moment: recent distinct items and top category.

One definition for every writer and reader of those two features: training takes a snapshot
at the start of each example's day (point-in-time at day granularity), the Feast tables and
the online warm-up take one at the end of the history, and the event service keeps the same
state current in Valkey (`recent:{v}` sorted set, `topcat:{v}`). The online rules it mirrors:

- a visitor is a user id, or the anonymous id of an anonymous visitor (sessions have history);
- recent items are distinct, newest last interaction first, equal times in reverse id order
  (Redis' ZREVRANGE), at most `online.keys.RECENT_KEPT` of them;
- the top category is `online.top_category.top_category` over those kept items;
- the whole state expires `memory_s` after the visitor's last interaction (the event service's
  `recent_ttl_s`: the seen-filter window).

Pure NumPy (the serving venv imports nothing from here, the training and event planes do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys_workloads.contracts.keys import RECENT_KEPT

ObjectArray = npt.NDArray[np.object_]
NO_CATEGORY = -1


@dataclass(frozen=True)
class UserHistory:
    top_category: Mapping[str, str]
    recent_items: Mapping[str, tuple[str, ...]]  # newest first, distinct
    recent_times: Mapping[str, tuple[int, ...]]  # last interaction time of each recent item

    def lookup(self, visitors: Sequence[str | None]) -> tuple[list[str | None], list[tuple[str, ...]]]:
        """Visitors without history (new, expired, or None) get the anonymous buckets."""
        tops = [self.top_category.get(v) if v is not None else None for v in visitors]
        recent = [self.recent_items.get(v, ()) if v is not None else () for v in visitors]
        return tops, recent


EMPTY_HISTORY = UserHistory({}, {}, {})


def user_history(
    visitors: ObjectArray,
    item_ids: ObjectArray,
    timestamps: npt.NDArray[np.int64],
    item_category: Mapping[str, str | None],
    recent: int,
    *,
    as_of: int | None = None,
    memory_s: int | None = None,
    kept: int = RECENT_KEPT,
) -> UserHistory:
    """The online state after these interactions (None visitors skipped), `recent` items per visitor.

    With `as_of` and `memory_s`, a visitor whose last interaction is `memory_s` or more before
    `as_of` has no state (its keys expired). `recent` may not exceed `kept`.
    """
    if recent > kept:
        raise ValueError(f"recent ({recent}) cannot exceed the items the online store keeps ({kept})")
    known = np.array([v is not None for v in visitors], dtype=bool)
    if not known.any():
        return EMPTY_HISTORY
    users, user_code = np.unique(visitors[known].astype(str), return_inverse=True)
    items, item_code = np.unique(item_ids[known].astype(str), return_inverse=True)
    ts = timestamps[known].astype(np.int64)
    # Latest interaction per (visitor, item), newest first, ties by reverse id (ZREVRANGE).
    order = np.lexsort((-item_code, -ts, user_code))
    pair = user_code[order].astype(np.int64) * len(items) + item_code[order]
    _, first = np.unique(pair, return_index=True)
    first.sort()
    rows = order[first]
    u, it, at = user_code[rows], item_code[rows], ts[rows]
    starts = np.r_[0, np.flatnonzero(u[1:] != u[:-1]) + 1]
    rank = np.arange(len(u)) - np.repeat(starts, np.diff(np.r_[starts, len(u)]))
    alive = np.ones(len(users), dtype=bool)
    if as_of is not None and memory_s is not None:
        alive = at[starts] > as_of - memory_s  # the first row of each visitor is its last interaction
    keep = (rank < kept) & alive[u]
    u, it, at, rank = u[keep], it[keep], at[keep], rank[keep]
    top = _top_categories(u, it, rank, len(users), items, item_category)
    shown = rank < recent
    recent_map: dict[str, list[str]] = {}
    times_map: dict[str, list[int]] = {}
    for user, item, when in zip(u[shown].tolist(), it[shown].tolist(), at[shown].tolist(), strict=True):
        name = str(users[user])
        recent_map.setdefault(name, []).append(str(items[item]))
        times_map.setdefault(name, []).append(int(when))
    return UserHistory(
        top_category={str(users[i]): c for i, c in top.items()},
        recent_items={k: tuple(v) for k, v in recent_map.items()},
        recent_times={k: tuple(v) for k, v in times_map.items()},
    )


def _top_categories(
    user: npt.NDArray[np.int64],
    item: npt.NDArray[np.int64],
    rank: npt.NDArray[np.int64],
    n_users: int,
    items: npt.NDArray[np.str_],
    item_category: Mapping[str, str | None],
) -> dict[int, str]:
    """`top_category` vectorised: most kept items, ties to the category seen most recently."""
    names = [item_category.get(str(i)) for i in items.tolist()]
    categories = sorted({c for c in names if c})
    if not categories or len(user) == 0:
        return {}
    code_of = {c: n for n, c in enumerate(categories)}
    item_cat = np.array([code_of[c] if c else NO_CATEGORY for c in names], dtype=np.int64)[item]
    has = item_cat != NO_CATEGORY
    u, c, r = user[has], item_cat[has], rank[has]
    counts = np.zeros((n_users, len(categories)), dtype=np.int64)
    np.add.at(counts, (u, c), 1)
    newest = np.full((n_users, len(categories)), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(newest, (u, c), r)
    best = counts == counts.max(axis=1, keepdims=True)
    choice = np.where(best & (counts > 0), newest, np.iinfo(np.int64).max).argmin(axis=1)
    return {int(i): categories[int(choice[i])] for i in np.unique(u).tolist()}
