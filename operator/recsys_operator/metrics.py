"""Prometheus metrics of the operator: reconcile counts, durations and errors per kind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram, start_http_server

RECONCILES = Counter("recsys_operator_reconciles_total", "Reconcile passes", ["kind", "result"])
RECONCILE_SECONDS = Histogram(
    "recsys_operator_reconcile_seconds",
    "Duration of one reconcile pass",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


@contextmanager
def reconcile_timer(kind: str) -> Iterator[None]:
    """Counts a pass as `ok` or `error` (and re-raises) and records how long it took."""
    start = time.perf_counter()
    try:
        yield
    except Exception:
        RECONCILES.labels(kind=kind, result="error").inc()
        raise
    else:
        RECONCILES.labels(kind=kind, result="ok").inc()
    finally:
        RECONCILE_SECONDS.labels(kind=kind).observe(time.perf_counter() - start)


def serve(port: int) -> None:
    start_http_server(port)
