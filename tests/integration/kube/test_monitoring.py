"""ServiceMonitors on the real API server: applied with the Prometheus operator's CRDs, skipped
without them, and skipped again (no crash) once the CRDs are deleted under a running client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recsys_local.testbed.cluster import KubeCluster, split_yaml_documents
from recsys_operator.adapters.kube import KubernetesCluster
from recsys_operator.api import GROUP, VERSION
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers.recommender_system import apply_monitors, reconcile

CRDS = Path(__file__).with_name("fixtures") / "prometheus-operator-crds.yaml"
SPEC: dict[str, Any] = {"training": {"initial": False, "incrementalSchedule": None}}


def _crd_names() -> list[str]:
    return [doc["metadata"]["name"] for doc in split_yaml_documents([CRDS])]


def _delete_crds(cluster: KubeCluster, timeout_s: float = 30.0) -> None:
    ext = client.ApiextensionsV1Api(cluster.api)
    for name in _crd_names():
        try:
            ext.delete_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        names = {c.metadata.name for c in ext.list_custom_resource_definition().items}
        if not names & set(_crd_names()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"CRDs {_crd_names()} still present after {timeout_s} s")


@pytest.fixture
def prometheus_crds(kube_cluster: KubeCluster) -> Iterator[None]:
    """The monitoring CRDs for one test; deleted afterwards (the other tests run without them)."""
    kube_cluster.apply_crds([CRDS])
    try:
        yield
    finally:
        _delete_crds(kube_cluster)


def _recommender(cluster: KubeCluster, namespace: str) -> dict[str, Any]:
    obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecommenderSystem",
        "metadata": {"name": "homepage"},
        "spec": SPEC,
    }
    created: dict[str, Any] = client.CustomObjectsApi(cluster.api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "recommendersystems", obj
    )
    return created


def _monitors(cluster: KubeCluster, namespace: str) -> dict[str, dict[str, Any]]:
    found = client.CustomObjectsApi(cluster.api).list_namespaced_custom_object(
        "monitoring.coreos.com", "v1", namespace, "servicemonitors"
    )
    return {item["metadata"]["name"]: item for item in found["items"]}


def _stalled(status: dict[str, Any]) -> str:
    return str(next(c for c in status["conditions"] if c["type"] == "Stalled")["status"])


def test_without_the_crds_a_reconcile_applies_its_children_and_no_monitor(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    _delete_crds(kube_cluster)
    body = _recommender(kube_cluster, namespace)
    status = reconcile(body, KubernetesCluster(kube_cluster.api))
    assert _stalled(status) == "False"
    apps = client.AppsV1Api(kube_cluster.api)
    assert apps.read_namespaced_deployment("homepage-api", namespace).metadata.name == "homepage-api"


def test_with_the_crds_each_component_gets_an_owned_monitor_and_losing_them_is_not_an_error(
    kube_cluster: KubeCluster, namespace: str, prometheus_crds: None
) -> None:
    body = _recommender(kube_cluster, namespace)
    cluster = KubernetesCluster(kube_cluster.api)
    status = reconcile(body, cluster)
    assert _stalled(status) == "False"
    monitors = _monitors(kube_cluster, namespace)
    assert sorted(monitors) == ["homepage-api", "homepage-events", "homepage-triton"]
    triton = monitors["homepage-triton"]
    assert triton["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]
    assert triton["spec"]["endpoints"][0]["port"] == "metrics"
    service = client.CoreV1Api(kube_cluster.api).read_namespaced_service("homepage-triton", namespace)
    assert "metrics" in {p.name for p in service.spec.ports}

    _delete_crds(kube_cluster)  # uninstalled while this client's discovery still lists the kind
    owner = Owner(name="homepage", namespace=namespace, uid=body["metadata"]["uid"])
    assert apply_monitors(cluster, owner) is False
