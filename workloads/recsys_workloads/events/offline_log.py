"""Accepted events as canonical interaction rows: `interactions/day=NN/part-<segment>.parquet`.

Part names derive from the WAL segment they came from, and a part is written to a
temporary name and renamed, so writing a segment twice (a crash between writing parts
and deleting the segment, then a replay) replaces the same files: exactly once.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from recsys_workloads.data import schema as s

EVENT_ID = "event_id"
Record = dict[str, Any]
"""One WAL line: the INTERACTIONS_SCHEMA columns an event fills, plus `event_id`."""


def record_key(record: Record) -> tuple[str, str]:
    """Event ids are unique per visitor."""
    visitor = record[s.USER_ID] if record[s.USER_ID] is not None else record[s.ANONYMOUS_ID]
    return str(visitor), str(record[EVENT_ID])


def unique_records(records: Iterable[Record]) -> list[Record]:
    """First occurrence of each (visitor, event id), order kept."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in records:
        key = record_key(record)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def day_of(timestamp: int, origin: int) -> int:
    return (timestamp - origin) // s.SECONDS_PER_DAY


def to_table(records: Sequence[Record]) -> pa.Table:
    """Rows in INTERACTIONS_SCHEMA (sessions and discounts are unknown to the service)."""
    columns = {
        s.USER_ID: [r[s.USER_ID] for r in records],
        s.ANONYMOUS_ID: [r[s.ANONYMOUS_ID] for r in records],
        s.SESSION_ID: [None] * len(records),
        s.ITEM_ID: [r[s.ITEM_ID] for r in records],
        s.TIMESTAMP: [int(r[s.TIMESTAMP]) for r in records],
        s.DEVICE_TYPE: [r[s.DEVICE_TYPE] for r in records],
        s.EVENT_TYPE: [r[s.EVENT_TYPE] for r in records],
        s.CLICKED: [r[s.EVENT_TYPE] != s.EventType.IMPRESSION for r in records],
        s.DISCOUNT: [None] * len(records),
    }
    return pa.Table.from_pydict(columns, schema=s.INTERACTIONS_SCHEMA)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parts(records: Sequence[Record], root: Path, origin: int, part: str) -> list[Path]:
    """Write `records` under `root/interactions/day=NN/part-<part>.parquet`, durably, one file per day."""
    by_day: dict[int, list[Record]] = defaultdict(list)
    for record in unique_records(records):
        by_day[day_of(int(record[s.TIMESTAMP]), origin)].append(record)
    written = []
    for day, rows in sorted(by_day.items()):
        folder = root / s.INTERACTIONS_DIR / s.day_partition_name(day)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"part-{part}.parquet"
        tmp = folder / f".{target.name}.tmp"
        pq.write_table(to_table(rows), tmp)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        tmp.replace(target)
        _fsync_dir(folder)
        written.append(target)
    return written
