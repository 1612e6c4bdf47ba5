"""Prometheus metrics of one recommendation API app (own registry: tests run several apps per process).

Names come from `contracts.metrics.ApiMetric`. What the API can see is the whole homepage (its
latency, which path answered, why it fell back); the per-step view is Triton's own metrics
port (`TritonMetric`), where every step model of the graph has its own series.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from recsys_workloads.contracts.metrics import ApiMetric, FallbackReason, Label
from recsys_workloads.runtime.http_guard import Asgi, Message, Receive, Scope, Send

# A homepage takes a few ms through Triton on CPU, up to the API's timeout_s (0.5 s by default).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)
RECOMMENDATIONS_PATH = "/v1/recommendations"


def fallback_reason(exc: BaseException) -> str:
    """The gRPC status behind a failed Triton call, as a `FallbackReason`.

    The client wraps tritonclient's `InferenceServerException` (whose `status()` is the gRPC
    code's name, e.g. `StatusCode.DEADLINE_EXCEEDED`) as the cause of its own error.
    """
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    status = getattr(cause, "status", None)
    code = str(status() if callable(status) else "")
    if "DEADLINE_EXCEEDED" in code:
        return FallbackReason.TIMEOUT
    if "UNAVAILABLE" in code:
        return FallbackReason.UNAVAILABLE
    return FallbackReason.ERROR


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            ApiMetric.REQUEST_SECONDS,
            "Homepage latency inside the route (Triton call or fallback), by ensemble asked and what answered",
            [Label.ENSEMBLE, Label.SOURCE],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.responses = Counter(
            ApiMetric.RESPONSES,
            "POST /v1/recommendations answers by HTTP status (guard refusals and 422s included)",
            [Label.STATUS],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            ApiMetric.FALLBACKS,
            "Homepages answered by popularity because the Triton call failed, by reason",
            [Label.ENSEMBLE, Label.REASON],
            registry=self.registry,
        )
        self.filter_skipped = Counter(
            ApiMetric.FILTER_SKIPPED,
            "Homepages whose seen items were not filtered (Valkey unreachable)",
            [Label.SOURCE],
            registry=self.registry,
        )
        self.cold_starts = Counter(
            ApiMetric.COLD_STARTS,
            "Homepages built from cold-start features (anonymous or unknown visitor, or popularity)",
            [Label.SOURCE],
            registry=self.registry,
        )
        self.arm_assignments = Counter(
            ApiMetric.ARM_ASSIGNMENTS,
            "Homepages assigned to each experiment arm (shadow arms included)",
            [Label.EXPERIMENT, Label.ARM],
            registry=self.registry,
        )
        self.arm_latency = Histogram(
            ApiMetric.ARM_SECONDS,
            "Latency of each arm's homepage computation; outcome error: the arm's call failed",
            [Label.EXPERIMENT, Label.ARM, Label.OUTCOME],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(
        self, ensemble: str, source: str, seconds: float, *, cold_start: bool, filter_skipped: bool
    ) -> None:
        """One homepage answered (by `source`: triton or popularity) in `seconds`."""
        self.latency.labels(ensemble, source).observe(seconds)
        if cold_start:
            self.cold_starts.labels(source).inc()
        if filter_skipped:
            self.filter_skipped.labels(source).inc()

    def fell_back(self, ensemble: str, exc: BaseException) -> str:
        """Counts a fallback for the reason `exc` shows; returns that reason."""
        reason = fallback_reason(exc)
        self.fallbacks.labels(ensemble, reason).inc()
        return reason

    def observe_arm(self, experiment: str, arm: str, seconds: float, error: bool = False) -> None:
        """One visitor assigned to `arm` of `experiment`, whose homepage took `seconds` (or failed)."""
        self.arm_assignments.labels(experiment, arm).inc()
        self.arm_latency.labels(experiment, arm, "error" if error else "ok").observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus' text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ResponseCounter:
    """ASGI middleware counting homepage answers by status, outside the guard (its 401/413/429 count).

    Only `/v1/recommendations`: one fixed path keeps the label set bounded, and it is the route
    the dashboard and the error-rate guardrail watch.
    """

    def __init__(self, app: Asgi, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != RECOMMENDATIONS_PATH:
            await self.app(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.responses.labels(str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting)
