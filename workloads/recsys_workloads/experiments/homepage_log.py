"""What the API writes per served homepage of an experiment, buffered off the request path.

Every homepage gets a record (``rec:<id>``: arm, version, visitor, items, time; expiring after
the attribution window) that the event service attributes later events to, and the arm's
counters (homepages, failures, latency bucket) go up. `add` only appends to a bounded buffer
(microseconds on the request path); `flush` writes the buffer in one pipeline, called by the
API every `FLUSH_INTERVAL_S`. A click that arrives before its homepage's flush is not
attributed: at 50 ms no person clicks that fast. Records that cannot be written (Valkey
down, buffer full) are dropped and counted in `dropped`, never retried into an unbounded queue.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from recsys_workloads.contracts.experiment import (
    ITEM_SEPARATOR,
    LATENCY_BUCKETS_MS,
    CounterField,
    RecommendationField,
    ResolvedArm,
    ResolvedExperiment,
)
from recsys_workloads.contracts.keys import arm_counters_key, recommendation_key

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 0.05
MAX_PENDING = 20_000


@dataclass(frozen=True)
class ServedHomepage:
    recommendation_id: str
    arm: ResolvedArm
    visitor: str
    item_ids: Sequence[str]
    served_at: float
    latency_s: float
    failed: bool  # the arm did not answer: the popularity fallback did
    overlap: float | None = None  # shadow only: share of its items also in the live answer


def latency_bucket(latency_s: float) -> int | None:
    """The first bucket edge (ms) at or above the latency; None beyond the last edge."""
    ms = latency_s * 1e3
    return next((edge for edge in LATENCY_BUCKETS_MS if ms <= edge), None)


class HomepageLog:
    def __init__(
        self, client: redis.Redis, experiment: ResolvedExperiment, max_pending: int = MAX_PENDING
    ) -> None:
        self.client, self.experiment = client, experiment
        self._pending: deque[ServedHomepage] = deque()
        self._max_pending = max_pending
        self._lock = threading.Lock()  # add() on the event loop, flush() in a worker thread
        self.dropped = 0
        self.written = 0

    def add(self, served: ServedHomepage) -> None:
        with self._lock:
            if len(self._pending) >= self._max_pending:
                self.dropped += 1
                return
            self._pending.append(served)

    def flush(self) -> int:
        """Write what is buffered; returns how many homepages were written."""
        with self._lock:
            batch, self._pending = list(self._pending), deque()
        if not batch:
            return 0
        pipe = self.client.pipeline(transaction=False)
        window = self.experiment.attribution_window_s
        for served in batch:
            counters = arm_counters_key(self.experiment.name, served.arm.name)
            pipe.hincrby(counters, CounterField.HOMEPAGES, 1)
            if served.failed:
                pipe.hincrby(counters, CounterField.ERRORS, 1)
            edge = latency_bucket(served.latency_s)
            if edge is not None:
                pipe.hincrby(counters, CounterField.latency_bucket(edge), 1)
            if served.overlap is not None:
                pipe.hincrby(counters, CounterField.OVERLAP_MILLI, round(served.overlap * 1000))
            if served.arm.shadow:
                continue  # never shown: nothing to attribute to
            key = recommendation_key(served.recommendation_id)
            pipe.hset(
                key,
                mapping={
                    RecommendationField.EXPERIMENT: self.experiment.name,
                    RecommendationField.ARM: served.arm.name,
                    RecommendationField.VERSION: ""
                    if served.arm.version is None
                    else str(served.arm.version),
                    RecommendationField.VISITOR: served.visitor,
                    RecommendationField.ITEMS: ITEM_SEPARATOR.join(served.item_ids),
                    RecommendationField.SERVED_AT: f"{served.served_at:.3f}",
                },
            )
            pipe.expire(key, window)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            self.dropped += len(batch)
            log.warning(
                "experiment %s: %d homepage records dropped: %s", self.experiment.name, len(batch), exc
            )
            return 0
        self.written += len(batch)
        return len(batch)
