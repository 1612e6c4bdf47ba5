"""Online state from history: what the event service would have written had it seen the past.

A fresh Valkey knows nothing of the visitors, so the first homepage of every registered
user would be a cold start. Local mode (and a cluster's first deployment) replays the
canonical dataset once: decayed popularity per UTC day, and per visitor within the
seen-filter window the seen items, recent items and top category, in the same keys and
formats the event service maintains (online/keys.py), so live events continue them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import redis

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.data import schema as s
from recsys_workloads.features.history import user_history
from recsys_workloads.online.client import store_errors
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import make_seen_filter

BATCH = 500  # visitors per pipelined round trip


@dataclass(frozen=True)
class WarmupSummary:
    popularity_rows: int
    visitors: int
    seen_items: int


def clicked_history(canonical: Path) -> pa.Table:
    """Visitor (user id, else anonymous id), item and time of every non-impression row."""
    from recsys_workloads.data.ingest import open_interactions

    table = open_interactions(canonical).to_table(
        columns=[s.USER_ID, s.ANONYMOUS_ID, s.ITEM_ID, s.TIMESTAMP, s.CLICKED],
        filter=pc.field(s.CLICKED),
    )
    visitor = pc.coalesce(pc.cast(table[s.USER_ID], pa.string()), pc.cast(table[s.ANONYMOUS_ID], pa.string()))
    return pa.table(
        {
            "visitor": visitor,
            s.ITEM_ID: pc.cast(table[s.ITEM_ID], pa.string()),
            s.TIMESTAMP: table[s.TIMESTAMP],
        }
    )


def item_categories(canonical: Path) -> dict[str, str]:
    items = pq.read_table(canonical / s.ITEMS_FILE, columns=[s.ITEM_ID, s.CATEGORY_L1])
    return dict(zip(items[s.ITEM_ID].to_pylist(), items[s.CATEGORY_L1].to_pylist(), strict=True))


def load_popularity(history: pa.Table, category: dict[str, str], popularity: Popularity) -> int:
    """Replay clicks into the decayed popularity sets, aggregated per item and UTC day."""
    days = pc.divide(history[s.TIMESTAMP], s.SECONDS_PER_DAY)
    counts = (
        pa.table({"day": days, s.ITEM_ID: history[s.ITEM_ID]})
        .group_by(["day", s.ITEM_ID])
        .aggregate([([], "count_all")])
    )
    written = 0
    for day in sorted(set(counts["day"].to_pylist())):
        rows = counts.filter(pc.equal(counts["day"], day))
        events = [
            (item, category.get(item), float(n))
            for item, n in zip(rows[s.ITEM_ID].to_pylist(), rows["count_all"].to_pylist(), strict=True)
        ]
        popularity.record_many(events, at=(day + 1) * s.SECONDS_PER_DAY - 1)
        written += len(events)
    return written


def visitor_histories(history: pa.Table, since: int) -> dict[str, list[tuple[str, int]]]:
    """Per visitor, (item, last time) newest first, for clicks at or after `since`."""
    recent = history.filter(
        pc.and_(pc.greater_equal(history[s.TIMESTAMP], since), pc.is_valid(history["visitor"]))
    )
    last = recent.group_by(["visitor", s.ITEM_ID]).aggregate([(s.TIMESTAMP, "max")])
    out: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for visitor, item, at in zip(
        last["visitor"].to_pylist(),
        last[s.ITEM_ID].to_pylist(),
        last[f"{s.TIMESTAMP}_max"].to_pylist(),
        strict=True,
    ):
        out[visitor].append((item, int(at)))
    for items in out.values():
        items.sort(key=lambda pair: (-pair[1], pair[0]))
    return dict(out)


def warm_online_state(
    client: redis.Redis,
    canonical: Path,
    seen: SeenFilterConfig | None = None,
    recent_items: int = keys.RECENT_KEPT,
) -> WarmupSummary:
    """Write popularity, seen filters, recent items and top categories from `canonical`.

    Times are the dataset's own: a history that ended long ago leaves little within the
    window (local mode dates its generated shop so that history ends yesterday). Recent
    items and top categories are `features.history.user_history` at the end of the history,
    the definition training uses, so the first homepage reads what the models learned from.
    """
    seen = seen or SeenFilterConfig()
    history = clicked_history(canonical)
    category = item_categories(canonical)
    rows = load_popularity(history, category, Popularity(client))
    if history.num_rows == 0:
        return WarmupSummary(rows, 0, 0)
    end = int(pc.max(history[s.TIMESTAMP]).as_py())
    window = seen.window_days * s.SECONDS_PER_DAY
    visitors = visitor_histories(history, since=end - window)
    state = user_history(
        np.array(history["visitor"].to_pylist(), dtype=object),
        np.array(history[s.ITEM_ID].to_pylist(), dtype=object),
        history[s.TIMESTAMP].to_numpy().astype(np.int64),
        category,
        recent_items,
        as_of=end,
        memory_s=window,
        kept=recent_items,
    )
    seen_filter = make_seen_filter(client, seen)
    added = 0
    names = sorted(visitors)
    for start in range(0, len(names), BATCH):
        pipe = client.pipeline(transaction=False)
        for visitor in names[start : start + BATCH]:
            by_day: dict[int, list[str]] = defaultdict(list)
            for item, at in visitors[visitor]:
                by_day[at - at % s.SECONDS_PER_DAY].append(item)
            for day_start, items in by_day.items():
                seen_filter.add(visitor, items, at=day_start)
                added += len(items)
            recent = dict(
                zip(state.recent_items.get(visitor, ()), state.recent_times.get(visitor, ()), strict=True)
            )
            if recent:
                pipe.zadd(keys.recent_items_key(visitor), recent)
                pipe.expire(keys.recent_items_key(visitor), window)
            top = state.top_category.get(visitor)
            if top is not None:
                pipe.set(keys.top_category_key(visitor), top, ex=window)
        with store_errors("online warm-up"):
            pipe.execute()
    return WarmupSummary(rows, len(visitors), added)
