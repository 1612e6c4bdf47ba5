"""The offline event log: WAL for durability, parquet parts for training, a flusher between them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from recsys_workloads.contracts.events import WalConfig
from recsys_workloads.events.offline_log import Record, write_parts
from recsys_workloads.events.wal import WriteAheadLog, drain, read_segment

log = logging.getLogger(__name__)
WAL_DIR = "wal"


class EventLog:
    """`append` is durable on return; `flush` moves everything logged so far into parquet."""

    def __init__(self, root: Path, writer_id: str, origin: int, config: WalConfig) -> None:
        self.root = root
        self.origin = origin
        self.config = config
        self.wal = WriteAheadLog(root / WAL_DIR, writer_id, fsync=config.fsync)
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def leftover_records(self) -> list[Record]:
        """Events in segments a previous process left behind (acknowledged, not yet in parquet)."""
        return [r for segment in self.wal.sealed_segments() for r in read_segment(segment)]

    def append(self, records: Sequence[Record]) -> None:
        self.wal.append(records)

    def _write(self, records: list[Record], part: str) -> None:
        write_parts(records, self.root, self.origin, part)

    def flush(self) -> int:
        """Write every logged event to parquet; returns the rows moved."""
        with self._flush_lock:
            rows = drain(self.wal, self._write)
        if rows:
            log.info("event log: %d events flushed to parquet", rows)
        return rows

    def due(self) -> bool:
        return self.wal.open_rows >= self.config.flush_rows or (
            self.wal.open_rows > 0 and self.wal.open_age_s >= self.config.flush_interval_s
        )

    def start(self, poll_s: float = 0.2) -> None:
        """Background flusher: by size or age of the open segment."""

        def loop() -> None:
            while not self._stop.wait(poll_s):
                if self.due():
                    try:
                        self.flush()
                    except OSError:
                        log.exception("event log flush failed; the WAL keeps the events")

        self._thread = threading.Thread(target=loop, name="event-log-flusher", daemon=True)
        self._thread.start()

    def close(self) -> int:
        """Stop the flusher and flush what is left (shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.flush()
