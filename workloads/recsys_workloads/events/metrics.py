"""Prometheus metrics of one service instance (own registry: several apps may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class EventMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "recsys_events",
            "Events by outcome (accepted, duplicate, rejected) and event type",
            ["outcome", "event_type"],
            registry=self.registry,
        )
        self.requests = Counter(
            "recsys_event_requests", "POST /events answers by HTTP status", ["status"], registry=self.registry
        )
        self.latency = Histogram(
            "recsys_event_request_seconds",
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
            "recsys_event_wal_bytes", "Bytes in WAL segments not yet in parquet", registry=self.registry
        )
        self.wal_rows = Gauge(
            "recsys_event_wal_open_rows", "Events in the open WAL segment", registry=self.registry
        )
