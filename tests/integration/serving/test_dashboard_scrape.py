"""Every metric and label the Grafana dashboard queries is exposed by a real scrape.

The running local-mode components, each scraped over HTTP where Prometheus would scrape it:
the API (through Triton, and a second one without Triton for the fallback series), the event
service, and Triton's own metrics port. The operator's registry is read in process (its
series are process-wide, served by `RECSYS_METRICS_PORT` in a pod).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest

from recsys_local.testbed import dashboard
from recsys_operator import metrics as operator_metrics
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.contracts.metrics import FallbackReason
from recsys_workloads.data import schema as s
from recsys_workloads.events.app import create_app as create_event_app
from recsys_workloads.events.client import EventClient
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.runtime.ports import LOOPBACK
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.serving.api.app import ApiConfig, create_app
from tests.integration.events.conftest import ORIGIN, write_items

from .conftest import Stack, call, no_triton

ROOT = Path(__file__).resolve().parents[3]
Series = dict[str, set[str]]


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def _api_series(stack: Stack) -> Iterator[str]:
    """The API through Triton, scraped after real homepages (a 422 among them)."""
    app = create_app(ApiConfig(triton_url=stack.triton.grpc_url, redis_url=stack.store.url, timeout_s=5))
    with ThreadedServer(app) as server:
        for body in ({"user_id": "u1"}, {"session_id": "s1"}, {"num_items": 0}):
            call(server.url, "/v1/recommendations", body)
        # Experiments are wired into the route separately; the arm series come from the method
        # that wiring calls, on this same app's registry.
        app.state.metrics.observe_arm("exp", "control", 0.004)
        app.state.metrics.observe_arm("exp", "treatment", 0.5, error=True)
        yield _scrape(f"{server.url}/metrics")


@pytest.fixture(scope="module")
def series(
    homepage_stack: Stack, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Series:
    found: Series = {}
    for text in _api_series(homepage_stack):
        dashboard.exposed(text, found)
    with ThreadedServer(create_app(no_triton())) as server:  # no Triton, no Valkey: fallback, unfiltered
        status, _, answer = call(server.url, "/v1/recommendations", {"user_id": "u1"})
        assert status == 200 and answer["fallback"] is True
        fallback_text = _scrape(f"{server.url}/metrics")
        assert f'reason="{FallbackReason.UNAVAILABLE}"' in fallback_text
        dashboard.exposed(fallback_text, found)
    work = tmp_path_factory.mktemp("dashboard-events")
    config = EventServiceConfig(
        redis_url=redis_server.url,  # the session's spare one (flushed per use), not the stack's
        catalog=write_items(work / "shop" / s.ITEMS_FILE),
        log_dir=work / "events",
        day_origin_timestamp=ORIGIN,
        writer_id="test",
    )
    with ThreadedServer(create_event_app(config)) as server:
        client = EventClient(server.host, server.port)
        event = {"event_id": "e1", "user_id": "u1", "item_id": "i1", "event_type": "View"}
        assert client.post_events({**event, "timestamp": int(time.time())}).status == 200
        client.close()
        dashboard.exposed(_scrape(f"{server.url}/metrics"), found)
    triton_text = _scrape(f"http://{LOOPBACK}:{homepage_stack.triton.ports.metrics}/metrics")
    dashboard.exposed(triton_text, found)  # after the homepages
    # The operator: what its handlers set on every pass, then its process-wide registry.
    with operator_metrics.reconcile_timer("RecommenderSystem"):
        operator_metrics.set_model_versions("shop/homepage", 2, 3)
    operator_metrics.count_training_run("shop/homepage", "SUCCEEDED")
    operator_metrics.set_arm_counts(
        "shop/homepage", "exp", "control", 1000, {"click": 80, "addToCart": 9, "purchase": 2}
    )
    dashboard.exposed(generate_latest(REGISTRY).decode(), found)
    return found


def test_triton_exports_per_step_series_on_its_metrics_port(series: Series) -> None:
    assert "model" in series["nv_inference_compute_infer_duration_us"]


@pytest.mark.parametrize("query", dashboard.queries(ROOT), ids=lambda q: q.panel)
def test_every_panel_names_only_scraped_metrics_and_labels(query: dashboard.Query, series: Series) -> None:
    assert dashboard.missing(dashboard.needs(query.expr), series) == [], query.expr
