"""The Grafana dashboard offline: every query parses as PromQL and names only declared metrics.

That the names are really exposed, with the labels the queries group by, is
tests/integration/serving/test_dashboard_scrape.py (real scrapes of the running components).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_local.testbed import dashboard
from recsys_workloads.contracts.metrics import ApiMetric, EventMetric, OperatorMetric, TritonMetric

ROOT = Path(__file__).resolve().parents[2]
QUERIES = dashboard.queries(ROOT)
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def _declared() -> set[str]:
    names = {
        str(value)
        for group in (ApiMetric, EventMetric, OperatorMetric, TritonMetric)
        for key, value in vars(group).items()
        if key.isupper()
    }
    return names | {name + suffix for name in names for suffix in HISTOGRAM_SERIES}


def test_the_dashboard_has_queries_for_every_section() -> None:
    assert len(QUERIES) >= 20
    used = {name for q in QUERIES for name in dashboard.needs(q.expr).metrics}
    for needed in (ApiMetric.FALLBACKS, ApiMetric.ARM_ASSIGNMENTS, OperatorMetric.ARM_HOMEPAGES):
        assert needed in used
    assert TritonMetric.COMPUTE_INFER_DURATION_US in used


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.panel)
def test_every_query_parses_and_names_declared_metrics(query: dashboard.Query) -> None:
    used = dashboard.needs(query.expr).metrics
    assert used, query.expr
    assert set(used) <= _declared(), sorted(set(used) - _declared())


def test_an_invalid_query_is_refused_by_the_parser() -> None:
    with pytest.raises(ValueError, match="parenthesis"):
        dashboard.parse("sum(rate(recsys_api_responses_total[$__rate_interval])")


def test_a_missing_label_or_metric_is_reported() -> None:
    needs = dashboard.needs('sum by (arm) (rate(x_total{experiment="e"}[5m])) / sum(y)')
    assert dashboard.missing(needs, {"x_total": {"arm", "experiment"}, "y": set()}) == []
    assert dashboard.missing(needs, {"x_total": {"experiment"}}) == [
        "no series y",
        "by/on label 'arm' is on none of ['x_total']",
    ]


def test_exposed_series_keep_their_names_as_prometheus_stores_them() -> None:
    text = (
        "# TYPE nv_inference_count counter\n"
        'nv_inference_count{model="user_lookup",version="1"} 2\n'
        'recsys_api_fallbacks_total{ensemble="homepage",reason="a \\"quoted\\", one"} 1.0\n'
        "nv_cpu_utilization 0.5\n"
    )
    assert dashboard.exposed(text) == {
        "nv_inference_count": {"model", "version"},  # no `_total` added to a counter
        "recsys_api_fallbacks_total": {"ensemble", "reason"},
        "nv_cpu_utilization": set(),
    }
