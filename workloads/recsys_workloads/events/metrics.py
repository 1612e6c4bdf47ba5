"""Prometheus metrics of one service instance (own registry: several apps may share a process).

Names come from `contracts.metrics.EventMetric`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from recsys_workloads.contracts.metrics import EventMetric, Label


class EventMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            EventMetric.EVENTS,
            "Events by outcome (accepted, duplicate, rejected) and event type",
            [Label.OUTCOME, Label.EVENT_TYPE],
            registry=self.registry,
        )
        self.requests = Counter(
            EventMetric.REQUESTS,
            "POST /events answers by HTTP status",
            [Label.STATUS],
            registry=self.registry,
        )
        self.latency = Histogram(
            EventMetric.REQUEST_SECONDS,
            "POST /events latency, validation to answer (WAL fsync included)",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.attributions = Counter(
            "recsys_event_attributions",
            "Events naming a recommendation_id by outcome (attributed, expired, other_visitor, not_shown, "
            "outside_window, store_error)",
            ["outcome"],
            registry=self.registry,
        )
        self.wal_bytes = Gauge(
            EventMetric.WAL_BYTES, "Bytes in WAL segments not yet in parquet", registry=self.registry
        )
        self.wal_rows = Gauge(
            EventMetric.WAL_OPEN_ROWS, "Events in the open WAL segment", registry=self.registry
        )
