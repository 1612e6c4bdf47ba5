"""The API's metrics: fallback reasons from the gRPC status, per-arm series, one registry per app."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from tritonclient.utils import InferenceServerException

from recsys_workloads.contracts.metrics import ApiMetric, FallbackReason
from recsys_workloads.serving.api.metrics import ApiMetrics, fallback_reason
from recsys_workloads.serving.triton.client import TritonUnavailableError


def _wrapped(status: str) -> TritonUnavailableError:
    """What AsyncTritonRecommender raises: its own error, tritonclient's as the cause."""
    try:
        try:
            raise InferenceServerException("failed", status=status)
        except InferenceServerException as exc:
            raise TritonUnavailableError(f"homepage: {exc}") from exc
    except TritonUnavailableError as outer:
        return outer


def _samples(metrics: ApiMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    content, _ = metrics.exposition()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(content.decode())
        for s in family.samples
    }


def test_the_grpc_status_decides_the_fallback_reason() -> None:
    assert fallback_reason(_wrapped("StatusCode.DEADLINE_EXCEEDED")) == FallbackReason.TIMEOUT
    assert fallback_reason(_wrapped("StatusCode.UNAVAILABLE")) == FallbackReason.UNAVAILABLE
    assert fallback_reason(_wrapped("StatusCode.INTERNAL")) == FallbackReason.ERROR
    assert fallback_reason(TritonUnavailableError("no cause")) == FallbackReason.ERROR


def test_an_arm_counts_its_assignments_and_splits_latency_by_outcome() -> None:
    metrics = ApiMetrics()
    metrics.observe_arm("ranker-v2", "treatment", 0.004)
    metrics.observe_arm("ranker-v2", "treatment", 0.2, error=True)
    metrics.observe_arm("ranker-v2", "control", 0.003)
    samples = _samples(metrics)
    arm = (("arm", "treatment"), ("experiment", "ranker-v2"))
    assert samples[(ApiMetric.ARM_ASSIGNMENTS, arm)] == 2
    assert samples[(f"{ApiMetric.ARM_SECONDS}_count", (*arm, ("outcome", "error")))] == 1
    assert samples[(f"{ApiMetric.ARM_SECONDS}_count", (*arm, ("outcome", "ok")))] == 1


def test_a_homepage_counts_cold_start_and_filter_skip_only_when_flagged() -> None:
    metrics = ApiMetrics()
    metrics.observe("homepage", "triton", 0.004, cold_start=False, filter_skipped=False)
    metrics.observe("homepage", "popularity", 0.001, cold_start=True, filter_skipped=True)
    samples = _samples(metrics)
    assert (
        samples[(f"{ApiMetric.REQUEST_SECONDS}_count", (("ensemble", "homepage"), ("source", "triton")))] == 1
    )
    assert (ApiMetric.COLD_STARTS, (("source", "triton"),)) not in samples
    assert samples[(ApiMetric.COLD_STARTS, (("source", "popularity"),))] == 1
    assert samples[(ApiMetric.FILTER_SKIPPED, (("source", "popularity"),))] == 1
    assert not [key for key in _samples(ApiMetrics()) if key[0] == f"{ApiMetric.REQUEST_SECONDS}_count"]
