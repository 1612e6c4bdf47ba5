"""Promotion through the real API server: the operator promoting a succeeded run, and its writes.

No kubelet runs here, so the Triton Service has no ready address: the adapter finds no pod
to switch live and the version is recorded for the Deployment's pods to start on (the live
switch itself is tested on the real Triton in tests/integration/serving/test_rollout_versions.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from recsys_local.testbed.cluster import KubeCluster
from recsys_local.testbed.wait import until
from recsys_operator.adapters.kube import KubernetesCluster
from recsys_operator.adapters.triton import URL_ENV, TritonPods
from recsys_operator.api import API_VERSION, GROUP, VERSION
from recsys_operator.api.recommender_system import KIND, PLURAL
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers import promotion
from recsys_operator.reconcilers.training_run import run_name
from recsys_workloads.contracts.runs import RunStatus
from recsys_workloads.pipelines.runner import write_state

SPEC: dict[str, Any] = {"training": {"initial": False, "incrementalSchedule": None}}


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions") or []}


def test_promotion_status_is_stored_as_written_and_shown_by_kubectl(
    kube_cluster: KubeCluster, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "shop"}, "spec": SPEC}
    created = client.CustomObjectsApi(kube_cluster.api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body
    )
    cluster = KubernetesCluster(kube_cluster.api)
    cluster.patch_status(
        API_VERSION, KIND, "shop", namespace, {"model": {"currentVersion": 1, "message": "seeded"}}
    )
    owner = Owner(name="shop", namespace=namespace, uid=created["metadata"]["uid"])
    pods = TritonPods.of(cluster, owner, "homepage")

    def patch(changes: dict[str, Any]) -> None:
        cluster.patch_status(API_VERSION, KIND, "shop", namespace, changes)

    def status() -> dict[str, Any]:
        found = cluster.get(API_VERSION, KIND, "shop", namespace)
        assert found is not None
        return dict(found["status"])

    parent = cluster.get(API_VERSION, KIND, "shop", namespace)
    assert parent is not None
    run = {"state": "SUCCEEDED", "builtWith": {"models": "0123456789ab", "filtering.windowDays": "7"}}
    event = promotion.promote("Auto", run, parent, 2, pods, patch)
    assert event is not None and event.reason == "ModelVersionPromoted"
    stored = status()
    assert stored["model"] == {
        "currentVersion": 2,
        "previousVersion": 1,
        "latestVersion": 2,
        "transition": "UpToDate",
        "message": "no Triton pod served a version: pods start on version 2",
        "builtWith": {"models": "0123456789ab", "filtering.windowDays": "7"},  # kept by the CRD schema
    }
    assert _conditions(stored)["ModelUpToDate"]["status"] == "True"

    parent = cluster.get(API_VERSION, KIND, "shop", namespace)
    assert parent is not None
    assert promotion.promote("Manual", {"state": "SUCCEEDED"}, parent, 3, pods, patch) is not None
    stored = status()
    assert (stored["model"]["currentVersion"], stored["model"]["latestVersion"]) == (2, 3)
    waiting = _conditions(stored)["ModelUpToDate"]
    assert (waiting["status"], waiting["reason"]) == ("False", "AwaitingPromotion")
    parent = cluster.get(API_VERSION, KIND, "shop", namespace)
    assert parent is not None  # an Auto run of the same version later: already seen, left alone
    assert promotion.promote("Auto", {"state": "SUCCEEDED"}, parent, 3, pods, patch) is None

    header, row = kube_cluster.kubectl(
        "get", "recommendersystems", "shop", "-n", namespace
    ).stdout.splitlines()
    column = header.index("SERVING")  # columns are aligned; empty cells (no Ready yet) are blank
    assert row[column:].split()[0] == "2"


def test_the_operator_promotes_the_version_a_succeeded_run_published(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's record is seeded where the local runner keeps it (as after an operator restart):
    the operator finds it instead of submitting, mirrors it, and promotes its version."""
    objects = client.CustomObjectsApi(kube_cluster.api)
    cluster = KubernetesCluster(kube_cluster.api)
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": "shop"}, "spec": SPEC}
    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    cluster.patch_status(API_VERSION, KIND, "shop", namespace, {"model": {"currentVersion": 1}})
    run = {
        "apiVersion": API_VERSION,
        "kind": "TrainingRun",
        "metadata": {"name": "shop-nightly"},
        "spec": {"recommenderRef": {"name": "shop"}, "type": "Incremental", "promote": "Auto"},
    }
    created = objects.create_namespaced_custom_object(GROUP, VERSION, namespace, "trainingruns", run)
    run_id = run_name({**created["metadata"], "namespace": namespace})
    (tmp_path / "runs" / run_id).mkdir(parents=True)
    seeded = RunStatus(run_id=run_id, pipeline="incremental", state="RUNNING", outputs={"version": 2})
    write_state(tmp_path / "runs" / run_id, seeded, "SUCCEEDED")

    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    monkeypatch.setenv("RECSYS_METRICS_PORT", "0")
    monkeypatch.setenv("RECSYS_PIPELINE_RUNNER", "local")
    monkeypatch.setenv("RECSYS_LOCAL_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv(URL_ENV, raising=False)
    with KopfRunner(
        ["run", "--namespace", namespace, "--standalone", "-m", "recsys_operator.handlers"], timeout=60
    ):

        def promoted() -> dict[str, Any] | None:
            found = cluster.get(API_VERSION, KIND, "shop", namespace)
            status = (found or {}).get("status") or {}
            return status if (status.get("model") or {}).get("currentVersion") == 2 else None

        status = until("version 2 to be promoted", promoted)
        events = until(
            "the promotion Event",
            lambda: [
                e
                for e in client.CoreV1Api(kube_cluster.api).list_namespaced_event(namespace).items
                if e.involved_object.name == "shop" and e.reason == "ModelVersionPromoted"
            ],
        )
    assert status["model"]["previousVersion"] == 1 and status["model"]["transition"] == "UpToDate"
    assert status["lastTrainingRun"] == "shop-nightly"
    assert _conditions(status)["ModelUpToDate"]["status"] == "True"
    assert "pods start on version 2" in events[0].message
    stored_run = objects.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "trainingruns", "shop-nightly"
    )
    assert stored_run["status"]["modelVersions"] == {"homepage": 2}
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run_id]  # found, not submitted again
