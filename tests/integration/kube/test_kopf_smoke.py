"""kopf 1.45 runs against the real server: a create handler's status patch lands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from recsys_local.testbed.cluster import KubeCluster
from recsys_operator.api import API_VERSION, GROUP, VERSION

HANDLERS = """
import kopf


@kopf.on.login()
def login(**kwargs):
    # The kubernetes client reads $KUBECONFIG once at import; kopf's own reader reads it now.
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_):
    # Keep kopf's bookkeeping in annotations: the structural schema would prune status.kopf.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="smoke.recsys.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="smoke.recsys.io")
    settings.watching.server_timeout = 10


@kopf.on.create("recsys.io", "v1alpha1", "recommendersystems")
def created(spec, patch, **_):
    patch.status["endpoint"] = "smoke-triton:8001"
    patch.status["model"] = {"transition": "InProgress"}
    patch.status["lastTrainingRun"] = "window-%d" % spec["filtering"]["windowDays"]
"""


def _status(objects: client.CustomObjectsApi, namespace: str, name: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        obj = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, "recommendersystems", name)
        status = obj.get("status", {})
        if "endpoint" in status:
            break
        time.sleep(0.2)
    return status


def test_a_kopf_create_handler_patches_status_on_the_real_server(
    kube_cluster: KubeCluster, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handlers = tmp_path / "handlers.py"
    handlers.write_text(HANDLERS)
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    objects = client.CustomObjectsApi(kube_cluster.api)
    body = {"apiVersion": API_VERSION, "kind": "RecommenderSystem", "metadata": {"name": "smoke"}, "spec": {}}

    # kopf registers handlers in a process-wide registry: keep these out of the operator's.
    previous = kopf.get_default_registry()
    kopf.set_default_registry(kopf.OperatorRegistry())
    try:
        with KopfRunner(["run", "-A", "--standalone", str(handlers)], timeout=60) as runner:
            objects.create_namespaced_custom_object(GROUP, VERSION, namespace, "recommendersystems", body)
            status = _status(objects, namespace, "smoke", timeout_s=30)
    finally:
        kopf.set_default_registry(previous)

    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output
    assert status.get("endpoint") == "smoke-triton:8001", runner.output
    assert status["model"] == {"transition": "InProgress"}
    assert status["lastTrainingRun"] == "window-7"  # the handler saw the server-defaulted spec
    assert "Handler 'created' succeeded" in runner.output
