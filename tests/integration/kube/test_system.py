"""A RecommenderSystem reconciled into every owned child, on the loopback kube-apiserver 1.20.

The operator runs in process (`KopfRunner`, system:masters). With no kubelet nothing starts;
the single-node cluster layer (tests/cluster) runs the same operator in a pod, under its own
ServiceAccount and ClusterRole, with real pods.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from recsys_local.testbed.wait import until
from recsys_operator.adapters.kube import KubernetesCluster
from recsys_operator.api import GROUP, VERSION
from recsys_operator.api.recommender_system import COMPONENT_CONDITIONS, PLURAL, RecommenderSystemSpec
from recsys_operator.manifests.common import MANAGER, Owner
from recsys_operator.manifests.desired import desired_objects

NAME = "shop"
# No initial training (no KFP); otherwise the defaults, so every child appears.
SPEC: dict[str, Any] = {"training": {"initial": False, "incrementalSchedule": None}}


@dataclass(frozen=True)
class Target:
    api: client.ApiClient
    timeout_s: float


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    cluster = request.getfixturevalue("kube_cluster")
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KUBECONFIG", str(cluster.kubeconfig))
        env.setenv("RECSYS_METRICS_PORT", "0")
        env.setenv("RECSYS_PIPELINE_RUNNER", "local")
        env.setenv("RECSYS_LOCAL_RUNS", str(Path(runs)))
        with KopfRunner(["run", "-A", "--standalone", "-m", "recsys_operator.handlers"], timeout=60):
            time.sleep(2)  # let the watchers start before objects appear
            yield Target(cluster.api, timeout_s=60.0)


@pytest.fixture
def system_namespace(target: Target) -> Iterator[str]:
    core = client.CoreV1Api(target.api)
    name = f"e2e-system-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        core.delete_namespace(name)


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def test_a_recommender_owns_every_child_and_reports_every_component(
    target: Target, system_namespace: str
) -> None:
    objects = client.CustomObjectsApi(target.api)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "RecommenderSystem", "metadata": {"name": NAME}}
    created = objects.create_namespaced_custom_object(
        GROUP, VERSION, system_namespace, PLURAL, {**body, "spec": SPEC}
    )

    def reconciled() -> dict[str, Any] | None:
        obj = objects.get_namespaced_custom_object(GROUP, VERSION, system_namespace, PLURAL, NAME)
        status = obj.get("status") or {}
        current = status.get("observedGeneration") == obj["metadata"]["generation"]
        return obj if current and set(COMPONENT_CONDITIONS) <= set(_conditions(obj)) else None

    obj = until("every component condition", reconciled, target.timeout_s)
    conditions = _conditions(obj)
    assert conditions["Stalled"]["status"] == "False"
    assert conditions["FiltersReady"]["status"] == "True"
    assert conditions["Ready"]["status"] == "False"  # no model is trained in either cluster

    # Every child the builders describe exists on the server, owned by this recommender.
    owner = Owner(name=NAME, namespace=system_namespace, uid=created["metadata"]["uid"])
    cluster = KubernetesCluster(target.api)
    stored_spec = RecommenderSystemSpec.model_validate(obj["spec"])
    expected = desired_objects(owner, stored_spec, cluster.hpa_api_version())
    kinds = {m["kind"] for m in expected}
    assert {"Deployment", "StatefulSet", "NetworkPolicy", "PersistentVolumeClaim", "Service"} <= kinds
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for manifest in expected:
        key = (manifest["kind"], manifest["metadata"]["name"])
        found = cluster.get(manifest["apiVersion"], manifest["kind"], key[1], system_namespace)
        assert found is not None, f"{key} was not created"
        (ref,) = found["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "RecommenderSystem",
            NAME,
            owner.uid,
            True,
        ), key
        assert found["metadata"]["labels"]["app.kubernetes.io/managed-by"] == MANAGER
        stored[key] = found

    # What the server kept of the front doors and the policies (pruning would show here).
    api_pod = stored[("Deployment", f"{NAME}-api")]["spec"]["template"]["spec"]
    assert api_pod["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/readyz"
    events_set = stored[("StatefulSet", f"{NAME}-events")]["spec"]
    log_mount = next(
        m for m in events_set["template"]["spec"]["containers"][0]["volumeMounts"] if m["name"] == "log"
    )
    assert log_mount["subPathExpr"] == "$(POD_NAME)"
    triton_policy = stored[("NetworkPolicy", f"{NAME}-triton")]["spec"]
    grpc_rule = triton_policy["ingress"][0]
    assert {p["port"] for p in grpc_rule["ports"]} == {8000, 8001}
    assert grpc_rule["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["api"]
    service_ports = stored[("Service", f"{NAME}-api")]["spec"]["ports"]
    assert [(p["name"], p["protocol"]) for p in service_ports] == [("http", "TCP")]

    # This server has no StorageClass `efs-sc` (the claims' default): the operator says so
    # where a user looks, on each component whose pods mount such a claim.
    for component in ("ServingReady", "EventServiceReady"):
        assert conditions[component]["reason"] == "StorageClassNotFound", conditions[component]
        assert "StorageClass 'efs-sc' does not exist" in conditions[component]["message"]
    assert conditions["ApiReady"]["reason"] == "ApiNotReady"  # pods no scheduler places, no problem known
