"""Metric names, label names and scrape endpoints, declared once.

The services' registries (`serving/api/metrics.py`, `events/metrics.py`), the operator's
(`recsys_operator/metrics.py`), the monitors the operator renders and the Grafana dashboard
(`deploy/monitoring/grafana-dashboard.json`, whose test checks every name against a real
scrape) all use these, so a renamed metric fails a test instead of emptying a panel.

Names are the series as Prometheus stores them: counters end in `_total` (prometheus_client
strips and re-adds the suffix), histograms are the base name of their `_bucket`, `_sum` and
`_count` series. Pure: no prometheus_client import (the contracts layer imports nothing heavy).
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict


class Label:
    """Label names shared by several metrics (and the dashboard's `by (...)` clauses)."""

    ENSEMBLE: Final = "ensemble"  # the Triton model a homepage asked for (graph, or an arm's pinned one)
    SOURCE: Final = "source"  # triton | popularity: what answered
    REASON: Final = "reason"  # why popularity answered (FallbackReason)
    STATUS: Final = "status"  # HTTP status code
    EXPERIMENT: Final = "experiment"
    ARM: Final = "arm"
    OUTCOME: Final = "outcome"
    GOAL: Final = "goal"
    RECOMMENDER: Final = "recommender"  # namespace/name of a RecommenderSystem (operator metrics)
    ROLE: Final = "role"  # current | latest (model versions)
    KIND: Final = "kind"
    RESULT: Final = "result"
    STATE: Final = "state"
    EVENT_TYPE: Final = "event_type"
    MODEL: Final = "model"  # Triton's own: one per step model and ensemble
    LE: Final = "le"  # histogram bucket bound


class FallbackReason:
    """Why a homepage was answered by popularity instead of Triton (from the gRPC status)."""

    TIMEOUT: Final = "timeout"  # DEADLINE_EXCEEDED: Triton slower than the API's timeout_s
    UNAVAILABLE: Final = "triton_unavailable"  # UNAVAILABLE: no connection, Triton down or restarting
    ERROR: Final = "triton_error"  # any other status: a step failed, the model is not loaded, ...


class ApiMetric:
    """The recommendation API's `/metrics` (one registry per app)."""

    REQUEST_SECONDS: Final = "recsys_api_request_seconds"  # histogram {ensemble, source}
    RESPONSES: Final = "recsys_api_responses_total"  # {status}: every POST /v1/recommendations answer
    FALLBACKS: Final = "recsys_api_fallbacks_total"  # {ensemble, reason}
    FILTER_SKIPPED: Final = "recsys_api_filter_skipped_total"  # {source}: Valkey down, seen items kept
    COLD_STARTS: Final = "recsys_api_cold_starts_total"  # {source}
    ARM_ASSIGNMENTS: Final = "recsys_api_arm_assignments_total"  # {experiment, arm}
    ARM_SECONDS: Final = "recsys_api_arm_request_seconds"  # histogram {experiment, arm, outcome}


class EventMetric:
    """The event service's `/metrics`."""

    EVENTS: Final = "recsys_events_total"  # {outcome, event_type}
    REQUESTS: Final = "recsys_event_requests_total"  # {status}
    REQUEST_SECONDS: Final = "recsys_event_request_seconds"  # histogram
    WAL_BYTES: Final = "recsys_event_wal_bytes"
    WAL_OPEN_ROWS: Final = "recsys_event_wal_open_rows"


class OperatorMetric:
    """The operator's process-wide registry (`RECSYS_METRICS_PORT`)."""

    RECONCILES: Final = "recsys_operator_reconciles_total"  # {kind, result}
    RECONCILE_SECONDS: Final = "recsys_operator_reconcile_seconds"  # histogram {kind}
    TRAINING_RUNS: Final = "recsys_training_runs_finished_total"  # {recommender, state}
    MODEL_VERSION: Final = "recsys_model_version"  # gauge {recommender, role}
    ARM_HOMEPAGES: Final = "recsys_experiment_arm_homepages"  # gauge {recommender, experiment, arm}
    ARM_GOAL_HOMEPAGES: Final = (
        "recsys_experiment_arm_goal_homepages"  # gauge {recommender, experiment, arm, goal}
    )


class TritonMetric:
    """What Triton's metrics port exports per model (CPU build included) that the dashboard reads.

    Per step of the ensemble graph: every composing model is a `model` label value, so these
    are the per-step latencies the API's own histogram cannot see.
    """

    REQUEST_SUCCESS: Final = "nv_inference_request_success"
    REQUEST_FAILURE: Final = "nv_inference_request_failure"
    REQUEST_DURATION_US: Final = "nv_inference_request_duration_us"
    QUEUE_DURATION_US: Final = "nv_inference_queue_duration_us"
    COMPUTE_INFER_DURATION_US: Final = "nv_inference_compute_infer_duration_us"


class ScrapeEndpoint(BaseModel):
    """Where Prometheus scrapes one component: the Service port's name and the path."""

    model_config = ConfigDict(frozen=True)

    port: str
    path: str = "/metrics"


# The API and the event service serve /metrics on their one HTTP port (open like /healthz, see
# runtime/http_guard.OPEN_PATHS); Triton on its own metrics port (8002, `--allow-metrics=true`);
# the operator on the `metrics` port of deploy/base/metrics_service.yaml.
API_SCRAPE: Final = ScrapeEndpoint(port="http")
EVENTS_SCRAPE: Final = ScrapeEndpoint(port="http")
TRITON_SCRAPE: Final = ScrapeEndpoint(port="metrics")
OPERATOR_SCRAPE: Final = ScrapeEndpoint(port="metrics")
