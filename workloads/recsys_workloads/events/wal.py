"""Write-ahead log of accepted events: JSON lines, fsynced before the service answers 2xx.

The log is a folder of segments `wal-<writer>-<ns>.jsonl`. Appends go to the open
segment; `flush` seals it, turns every sealed segment into parquet parts and deletes
it. At start-up, segments left by a crash are sealed too, so they are flushed first.
A torn last line (the process died mid-write, before the fsync and so before the 2xx)
is skipped: that event was never acknowledged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from recsys_workloads.events.offline_log import Record

log = logging.getLogger(__name__)
SEGMENT_GLOB = "wal-*.jsonl"


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "writer"


def read_segment(path: Path) -> list[Record]:
    """Records of one segment; a torn (unparseable) trailing line is dropped."""
    lines = path.read_bytes().split(b"\n")
    records: list[Record] = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines) - 1 and any(rest.strip() for rest in lines[number + 1 :]):
                raise ValueError(f"{path}: corrupt line {number + 1} before the end") from None
            log.warning("%s: dropping a torn last line (never acknowledged)", path)
    return records


class WriteAheadLog:
    """Thread-safe appends, fsynced with group commit; segments are sealed by `seal` and consumed by a flusher."""

    def __init__(self, directory: Path, writer_id: str, fsync: bool = True) -> None:
        self.directory = directory
        self.writer = safe_name(writer_id)
        self.fsync = fsync
        self._lock = threading.Lock()  # the open segment and counters
        self._sync_lock = threading.Lock()  # one fsync at a time; taken before `_lock`
        self._written = 0  # appends so far
        self._synced = 0  # appends known durable
        self._handle: IO[bytes] | None = None
        self._path: Path | None = None
        self._rows = 0
        self._bytes = 0
        self._opened_at = 0.0
        directory.mkdir(parents=True, exist_ok=True)

    def _open(self) -> IO[bytes]:
        self._path = self.directory / f"wal-{self.writer}-{time.time_ns():020d}.jsonl"
        self._handle = self._path.open("ab")
        self._opened_at = time.monotonic()
        return self._handle

    def append(self, records: Sequence[Record]) -> None:
        """Durable on return (the caller may acknowledge); raises OSError otherwise."""
        if not records:
            return
        data = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)
        with self._lock:
            handle = self._handle or self._open()
            handle.write(data)
            handle.flush()
            self._rows += len(records)
            self._bytes += len(data)
            self._written += 1
            mine = self._written
        if self.fsync:
            self._sync(mine)

    def _sync(self, mine: int) -> None:
        """Group commit: whoever fsyncs covers every append written before it; the rest just return."""
        with self._sync_lock:
            if self._synced >= mine:
                return
            with self._lock:
                upto = self._written
                handle = self._handle
            if handle is not None:
                os.fsync(handle.fileno())
            self._synced = upto

    def seal(self) -> None:
        """Close the open segment (fsynced); the next append starts a new one."""
        with self._sync_lock, self._lock:
            if self._handle is not None:
                if self.fsync:
                    os.fsync(self._handle.fileno())
                self._handle.close()
            self._synced = self._written
            self._handle = None
            self._path = None
            self._rows = 0
            self._bytes = 0

    def sealed_segments(self) -> list[Path]:
        """Segments not being appended to, oldest first (this writer's and crashed ones alike)."""
        with self._lock:
            current = self._path
        return sorted(p for p in self.directory.glob(SEGMENT_GLOB) if p != current)

    @property
    def open_rows(self) -> int:
        return self._rows

    @property
    def open_age_s(self) -> float:
        return time.monotonic() - self._opened_at if self._handle is not None else 0.0

    def size_bytes(self) -> int:
        """Bytes of every segment on disk (open and sealed), for the WAL-size metric."""
        return sum(p.stat().st_size for p in self.directory.glob(SEGMENT_GLOB) if p.exists())


def drain(wal: WriteAheadLog, write: Callable[[list[Record], str], object]) -> int:
    """Seal the open segment and hand every sealed one to `write(records, part_name)`, then delete it."""
    wal.seal()
    rows = 0
    for segment in wal.sealed_segments():
        records = read_segment(segment)
        if records:
            write(records, segment.stem.removeprefix("wal-"))
        segment.unlink()
        rows += len(records)
    return rows
