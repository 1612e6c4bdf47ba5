"""ServiceMonitors select exactly their component's Service and scrape a port that Service names."""

from __future__ import annotations

import pytest

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import api, events, monitoring, triton
from recsys_operator.manifests.common import Manifest, Owner
from recsys_operator.manifests.desired import desired_objects

OWNER = Owner(name="homepage", namespace="shop", uid="u-1")


def _services() -> dict[str, Manifest]:
    return {
        o["metadata"]["labels"]["app.kubernetes.io/component"]: o
        for o in desired_objects(OWNER, RecommenderSystemSpec())
        if o["kind"] == "Service"
    }


@pytest.mark.parametrize("monitor", monitoring.service_monitors(OWNER), ids=lambda m: m["metadata"]["name"])
def test_a_monitor_selects_one_service_and_scrapes_a_port_it_names(monitor: Manifest) -> None:
    services = _services()
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        component
        for component, svc in services.items()
        if all(svc["metadata"]["labels"].get(k) == v for k, v in selector.items())
    ]
    assert len(selected) == 1
    (component,) = selected
    service_ports = {p["name"] for p in services[component]["spec"]["ports"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in service_ports
    assert endpoint["path"] == "/metrics"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["shop"]}
    assert monitor["metadata"]["ownerReferences"][0]["uid"] == "u-1"  # collected with the recommender


def test_triton_is_scraped_on_its_metrics_port_and_the_front_doors_on_http() -> None:
    by_component = {
        m["metadata"]["labels"]["app.kubernetes.io/component"]: m["spec"]["endpoints"][0]["port"]
        for m in monitoring.service_monitors(OWNER)
    }
    assert by_component == {triton.COMPONENT: "metrics", api.COMPONENT: "http", events.COMPONENT: "http"}
    triton_service = _services()[triton.COMPONENT]
    metrics_port = next(p for p in triton_service["spec"]["ports"] if p["name"] == "metrics")
    assert metrics_port["port"] == triton.METRICS
