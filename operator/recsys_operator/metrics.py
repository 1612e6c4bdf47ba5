"""Prometheus metrics of the operator: reconcile counts, durations and errors per kind, plus what
the dashboard shows per recommender (model versions, finished training runs, experiment counts).

Names come from `recsys_workloads.contracts.metrics.OperatorMetric`. The per-recommender series
carry `recommender="<namespace>/<name>"`: one operator serves every namespace, and experiment
names are only unique within a recommender.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from recsys_workloads.contracts.metrics import Label, OperatorMetric

RECONCILES = Counter(OperatorMetric.RECONCILES, "Reconcile passes", [Label.KIND, Label.RESULT])
RECONCILE_SECONDS = Histogram(
    OperatorMetric.RECONCILE_SECONDS,
    "Duration of one reconcile pass",
    [Label.KIND],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TRAINING_RUNS = Counter(
    OperatorMetric.TRAINING_RUNS,
    "TrainingRuns seen reaching a final state (SUCCEEDED, FAILED, CANCELED) by this operator process",
    [Label.RECOMMENDER, Label.STATE],
)
MODEL_VERSION = Gauge(
    OperatorMetric.MODEL_VERSION,
    "Model version per recommender: role current (Triton serves it) or latest (newest trained)",
    [Label.RECOMMENDER, Label.ROLE],
)
ARM_HOMEPAGES = Gauge(
    OperatorMetric.ARM_HOMEPAGES,
    "Homepages served by each experiment arm, as the operator last read them",
    [Label.RECOMMENDER, Label.EXPERIMENT, Label.ARM],
)
ARM_GOAL_HOMEPAGES = Gauge(
    OperatorMetric.ARM_GOAL_HOMEPAGES,
    "Homepages of each experiment arm with at least one attributed goal event (click, addToCart, purchase)",
    [Label.RECOMMENDER, Label.EXPERIMENT, Label.ARM, Label.GOAL],
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


def recommender_label(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def set_model_versions(recommender: str, current: int | None, latest: int | None) -> None:
    """From status.model; a role with no version yet has no series (not a misleading 0)."""
    for role, version in (("current", current), ("latest", latest)):
        if version is None:
            MODEL_VERSION.remove(recommender, role)  # absent: nothing to do
        else:
            MODEL_VERSION.labels(recommender, role).set(version)


def count_training_run(recommender: str, state: str) -> None:
    """Called once per run, on its transition into a final state."""
    TRAINING_RUNS.labels(recommender, state).inc()


def set_arm_counts(
    recommender: str, experiment: str, arm: str, homepages: int, goals: Mapping[str, int]
) -> None:
    """The per-arm counts the operator read (from Valkey) for its decision: the dashboard's CTR
    is `goal_homepages{goal="click"} / homepages`, the same numbers status.experiment shows."""
    ARM_HOMEPAGES.labels(recommender, experiment, arm).set(homepages)
    for goal, count in goals.items():
        ARM_GOAL_HOMEPAGES.labels(recommender, experiment, arm, goal).set(count)


def forget_recommender(recommender: str) -> None:
    """Drops a deleted recommender's series (its gauges would otherwise report forever)."""
    for metric in (MODEL_VERSION, ARM_HOMEPAGES, ARM_GOAL_HOMEPAGES, TRAINING_RUNS):
        metric.remove_by_labels({Label.RECOMMENDER: recommender})


def serve(port: int) -> None:
    start_http_server(port)
