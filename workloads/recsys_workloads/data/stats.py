"""A summary of a dataset (seed layout or canonical), computed one day file at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Group
from rich.table import Table

from recsys_workloads.data import schema as s
from recsys_workloads.data.errors import DataValidationError
from recsys_workloads.data.ingest import DAY_FILE


@dataclass
class DatasetStats:
    layout: str
    users: int
    items: int
    events_by_type: Counter[str] = field(default_factory=Counter)
    events_by_device: Counter[str] = field(default_factory=Counter)
    per_day: dict[int, Counter[str]] = field(default_factory=dict)  # day → {"interactions", "impressions"}
    views_by_category: Counter[str] = field(default_factory=Counter)
    anonymous_rows: int = 0

    @property
    def interactions(self) -> int:
        return sum(n for t, n in self.events_by_type.items() if t != s.EventType.IMPRESSION.value)


def day_files(path: Path) -> tuple[str, list[tuple[int, Path]]]:
    """(layout, [(day, file)]) of a seed-layout folder or a canonical dataset."""
    canonical = path / s.INTERACTIONS_DIR
    if canonical.is_dir():
        files = []
        for folder in sorted(canonical.iterdir()):
            if folder.name.startswith(f"{s.DAY}="):
                files += [(int(folder.name.split("=")[1]), f) for f in sorted(folder.glob("*.parquet"))]
        return "canonical", files
    if path.is_dir():
        seed = sorted((int(m.group(1)), p) for p in path.iterdir() if (m := DAY_FILE.match(p.name)))
        if seed or (path / s.ITEMS_FILE).exists():
            return "seed", seed
    raise DataValidationError(str(path), "neither a canonical dataset nor the seed's layout")


def _counts(column: pa.ChunkedArray | pa.Array) -> Counter[str]:
    """Value counts of a dictionary or string column; nulls are counted as 'unknown'."""
    counts: Counter[str] = Counter()
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            indices = chunk.indices.to_numpy(zero_copy_only=False)
            valid = ~np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            bins = np.bincount(indices[valid].astype(np.int64), minlength=len(chunk.dictionary))
            counts.update(
                {str(v): int(n) for v, n in zip(chunk.dictionary.to_pylist(), bins, strict=True) if n}
            )
            counts["unknown"] += int((~valid).sum())
        else:
            for entry in pc.value_counts(chunk).to_pylist():
                counts[str(entry["values"]) if entry["values"] is not None else "unknown"] += entry["counts"]
    if not counts["unknown"]:
        del counts["unknown"]
    return counts


def compute_stats(path: Path, on_day: Callable[[int], None] | None = None) -> DatasetStats:
    layout, files = day_files(path)
    items = pq.read_table(path / s.ITEMS_FILE, columns=[s.ITEM_ID, s.CATEGORY_L1])
    users = pq.read_metadata(path / s.USERS_FILE).num_rows if (path / s.USERS_FILE).exists() else 0
    category_of = dict(zip(items[s.ITEM_ID].to_pylist(), items[s.CATEGORY_L1].to_pylist(), strict=True))
    stats = DatasetStats(layout=layout, users=users, items=len(items))
    columns = [s.USER_ID, s.ITEM_ID, s.DEVICE_TYPE, s.EVENT_TYPE]
    for day, file in files:
        table = pq.read_table(file, columns=columns)
        by_type = _counts(table[s.EVENT_TYPE])
        stats.events_by_type.update(by_type)
        stats.events_by_device.update(_counts(table[s.DEVICE_TYPE]))
        impressions = by_type.get(s.EventType.IMPRESSION.value, 0)
        today = stats.per_day.setdefault(day, Counter())
        today.update({"interactions": sum(by_type.values()) - impressions, "impressions": impressions})
        views = table.filter(pc.equal(pc.cast(table[s.EVENT_TYPE], pa.string()), s.EventType.VIEW.value))
        for item, n in _counts(views[s.ITEM_ID]).items():
            stats.views_by_category[category_of.get(item, "unknown")] += n
        stats.anonymous_rows += table[s.USER_ID].null_count
        if on_day is not None:
            on_day(day)
    return stats


def render(stats: DatasetStats, path: Path) -> Group:
    """Rich tables for the terminal: totals, event types, devices, days, category shares."""
    total_rows = sum(stats.events_by_type.values()) or 1
    overview = Table(title=f"{path} ({stats.layout})", show_header=False)
    overview.add_row("users", f"{stats.users:,}")
    overview.add_row("items", f"{stats.items:,}")
    overview.add_row("interactions", f"{stats.interactions:,}")
    overview.add_row(
        "impressions (not clicked)", f"{stats.events_by_type.get(s.EventType.IMPRESSION.value, 0):,}"
    )
    overview.add_row("anonymous rows", f"{stats.anonymous_rows:,} ({stats.anonymous_rows / total_rows:.1%})")
    overview.add_row("days", f"{len(stats.per_day)}")

    def share_table(title: str, counts: Counter[str], order: tuple[str, ...] = ()) -> Table:
        table = Table(title=title)
        table.add_column(title.split(" by ")[-1])
        table.add_column("rows", justify="right")
        table.add_column("share", justify="right")
        total = sum(counts.values()) or 1
        keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
        for key in keys:
            table.add_row(key, f"{counts[key]:,}", f"{counts[key] / total:.1%}")
        return table

    days = Table(title="rows per day")
    days.add_column("day", justify="right")
    days.add_column("interactions", justify="right")
    days.add_column("impressions", justify="right")
    for day in sorted(stats.per_day):
        days.add_row(
            f"{day:02d}", f"{stats.per_day[day]['interactions']:,}", f"{stats.per_day[day]['impressions']:,}"
        )
    by_category = Counter(dict(stats.views_by_category.most_common()))
    return Group(
        overview,
        share_table("events by type", stats.events_by_type, s.EVENT_TYPES),
        share_table("events by device", stats.events_by_device, s.DEVICE_TYPES),
        days,
        share_table("views by category", by_category, tuple(by_category)),
    )
