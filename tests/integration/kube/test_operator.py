"""The operator itself (`kopf run -m recsys_operator.handlers`) against the real API server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from kopf.testing import KopfRunner
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recsys_local.testbed.cluster import KubeCluster
from recsys_local.testbed.wait import until
from recsys_operator.adapters.kube import KubernetesCluster
from recsys_operator.api import GROUP, VERSION
from recsys_workloads.contracts import keys
from recsys_workloads.pipelines.runner import LocalRunner
from recsys_workloads.runtime.redis_server import RedisServer

PLURAL = "recommendersystems"
SPEC: dict[str, Any] = {
    "dataSources": {"layout": "generated", "generator": {"users": 200, "interactions": 2000, "days": 2}},
    "serving": {"replicas": 1, "maxReplicas": 2},
    "training": {"incrementalSchedule": None},
}
UNTRAINED = {**SPEC, "training": {"initial": False, "incrementalSchedule": None}}


@pytest.fixture
def operator(
    kube_cluster: KubeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KopfRunner]:
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    monkeypatch.setenv("RECSYS_METRICS_PORT", "0")
    monkeypatch.setenv("RECSYS_PIPELINE_RUNNER", "local")
    monkeypatch.setenv("RECSYS_LOCAL_RUNS", str(tmp_path / "runs"))
    args = ["run", "-A", "--standalone", "-m", "recsys_operator.handlers"]
    try:
        with KopfRunner(args, timeout=60) as runner:
            time.sleep(2)  # let the watchers start before objects appear
            yield runner
    finally:
        # Local runs outlive the operator by design (a restart must find them); not the test's.
        runs = LocalRunner(tmp_path / "runs")
        for run_dir in (tmp_path / "runs").glob("*"):
            runs.cancel(run_dir.name)


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def test_a_recommender_gets_its_owned_objects_status_and_initial_run(
    kube_cluster: KubeCluster, namespace: str, operator: KopfRunner
) -> None:
    objects = client.CustomObjectsApi(kube_cluster.api)
    created = _create(objects, namespace, "homepage", SPEC)
    uid = created["metadata"]["uid"]

    def reconciled() -> dict[str, Any] | None:
        obj = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "homepage")
        return obj if "Ready" in _conditions(obj) else None

    obj = until("status conditions", reconciled)
    conditions = _conditions(obj)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert conditions["Stalled"]["status"] == "False"
    # No kubelet runs here: pods never start, so the operator must say it is waiting.
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "ValkeyNotReady"
    assert conditions["FiltersReady"]["status"] == "True"
    assert obj["status"]["lastTrainingRun"] == "homepage-initial"

    apps = client.AppsV1Api(kube_cluster.api)
    deployment = apps.read_namespaced_deployment("homepage-triton", namespace)
    assert deployment.metadata.owner_references[0].uid == uid
    assert (
        apps.read_namespaced_stateful_set("homepage-valkey", namespace).metadata.owner_references[0].uid
        == uid
    )
    core = client.CoreV1Api(kube_cluster.api)
    layout = "recsys.io/seen-filter-layout"  # the writers' and readers' pods name one layout
    events = apps.read_namespaced_stateful_set("homepage-events", namespace).spec.template.metadata
    assert events.annotations[layout] == deployment.spec.template.metadata.annotations[layout]
    assert core.read_namespaced_persistent_volume_claim("homepage-models", namespace).spec.access_modes == [
        "ReadWriteMany"
    ]
    hpa = KubernetesCluster(kube_cluster.api).get(
        "autoscaling/v2beta2", "HorizontalPodAutoscaler", "homepage-triton", namespace
    )
    assert hpa is not None
    assert hpa["spec"]["maxReplicas"] == 2  # served as autoscaling/v2beta2 on 1.20, picked by discovery
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "avg_time_queue_ms"
    run = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, "trainingruns", "homepage-initial")
    assert run["metadata"]["ownerReferences"][0]["uid"] == uid

    table = kube_cluster.kubectl("get", "recsys", "-n", namespace, "-o", "wide")
    assert "ValkeyNotReady" in table.stdout


def test_an_invalid_change_stalls_with_the_field_named_and_changes_nothing(
    kube_cluster: KubeCluster, namespace: str, operator: KopfRunner
) -> None:
    objects = client.CustomObjectsApi(kube_cluster.api)
    _create(objects, namespace, "bad", UNTRAINED)
    until(
        "first reconcile",
        lambda: _conditions(objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "bad")),
    )
    patch = {"spec": {"serving": {"replicas": 5, "maxReplicas": 2}}}
    objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "bad", patch)

    def stalled() -> dict[str, Any] | None:
        stalled = _conditions(
            objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "bad")
        ).get("Stalled")
        return stalled if stalled and stalled["status"] == "True" else None

    condition = until("Stalled=True", stalled)
    assert condition["reason"] == "InvalidSpec"
    assert "spec.serving.replicas must not exceed spec.serving.maxReplicas" in condition["message"]
    deployment = client.AppsV1Api(kube_cluster.api).read_namespaced_deployment("bad-triton", namespace)
    assert deployment.spec.replicas is None or deployment.spec.replicas <= 2


def test_a_child_the_server_refuses_shows_in_the_status_and_an_event_and_clears_when_fixed(
    kube_cluster: KubeCluster, namespace: str, operator: KopfRunner
) -> None:
    """A namespace policy (LimitRange admission) refuses the 20Gi model volume claim with 403: the
    refusal is the status at once, with the claim and the server's words, not a retry in a log."""
    core = client.CoreV1Api(kube_cluster.api)
    limit = {"type": "PersistentVolumeClaim", "max": {"storage": "15Gi"}}
    core.create_namespaced_limit_range(
        namespace, {"metadata": {"name": "claims"}, "spec": {"limits": [limit]}}
    )
    objects = client.CustomObjectsApi(kube_cluster.api)
    _create(objects, namespace, "capped", UNTRAINED)

    def ready_reason(reason: str) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            obj = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "capped")
            ready = _conditions(obj).get("Ready")
            return obj if ready and ready["reason"] == reason else None

        return check

    obj = until("Ready=False Forbidden", ready_reason("Forbidden"))
    conditions = _conditions(obj)
    assert conditions["Stalled"]["status"] == "True"
    message = conditions["Ready"]["message"]
    assert "PersistentVolumeClaim capped-models: HTTP 403" in message
    assert "maximum storage usage per PersistentVolumeClaim is 15Gi" in message, message
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=capped").items
    assert any(e.reason == "Forbidden" and "capped-models" in e.message for e in events), events

    fix = {"spec": {"serving": {"modelRepository": {"size": "10Gi"}}}}
    objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "capped", fix)
    fixed = until("the claim taken", ready_reason("ValkeyNotReady"))
    assert _conditions(fixed)["Stalled"]["status"] == "False"
    assert core.read_namespaced_persistent_volume_claim("capped-models", namespace)


def test_a_token_secret_that_does_not_exist_is_the_front_doors_condition_until_it_does(
    kube_cluster: KubeCluster, namespace: str, operator: KopfRunner
) -> None:
    """spec.api.auth.tokenSecretRef names a Secret not there yet: the API server takes the
    Deployment (its env a secretKeyRef, no value), and ApiReady says which Secret is missing."""
    objects = client.CustomObjectsApi(kube_cluster.api)
    auth = {"auth": {"tokenSecretRef": {"name": "front-token"}}}
    spec = {**UNTRAINED, "api": auth, "events": auth}
    _create(objects, namespace, "guarded", spec)

    def api_reason(reason: str) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            obj = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "guarded")
            api_ready = _conditions(obj).get("ApiReady")
            return obj if api_ready and api_ready["reason"] == reason else None

        return check

    conditions = _conditions(until("ApiReady=False SecretNotFound", api_reason("SecretNotFound")))
    assert (
        f"Secret front-token (spec.api.auth.tokenSecretRef) in namespace {namespace} does not exist"
        in (conditions["ApiReady"]["message"])
    )
    assert conditions["EventServiceReady"]["reason"] == "SecretNotFound"
    assert conditions["Stalled"]["status"] == "False"  # the spec is valid: it waits, it is not stuck
    apps = client.AppsV1Api(kube_cluster.api)
    (container,) = apps.read_namespaced_deployment("guarded-api", namespace).spec.template.spec.containers
    token_env = next(e for e in container.env if e.name == "RECSYS_AUTH_TOKEN")
    assert (token_env.value, token_env.value_from.secret_key_ref.name) == (None, "front-token")
    config_map = client.CoreV1Api(kube_cluster.api).read_namespaced_config_map(
        "guarded-api-config", namespace
    )
    assert '"tokenRequired": true' in next(iter(config_map.data.values()))

    core = client.CoreV1Api(kube_cluster.api)
    core.create_namespaced_secret(
        namespace, {"metadata": {"name": "front-token"}, "stringData": {"token": "t0ken"}}
    )
    # A spec edit reconciles at once (the periodic refresh would too, after 30 s idle).
    objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "guarded", {"spec": {"api": {"timeoutS": 0.4}}}
    )
    conditions = _conditions(until("ApiReady=False ApiNotReady", api_reason("ApiNotReady")))
    assert conditions["ApiReady"]["message"] == "0/1 API replicas ready"  # no kubelet here: no pods
    assert conditions["EventServiceReady"]["reason"] != "SecretNotFound"


def test_deleting_a_recommender_releases_its_finalizer_and_collects_its_children(
    kube_cluster: KubeCluster, namespace: str, operator: KopfRunner
) -> None:
    objects = client.CustomObjectsApi(kube_cluster.api)
    _create(objects, namespace, "gone", UNTRAINED)
    apps = client.AppsV1Api(kube_cluster.api)
    until(
        "the Triton deployment",
        lambda: _exists(lambda: apps.read_namespaced_deployment("gone-triton", namespace)),
    )
    obj = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "gone")
    assert "recsys.io/finalizer" in obj["metadata"]["finalizers"]
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "gone")
    until(
        "the recommender to go",
        lambda: (
            not _exists(
                lambda: objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "gone")
            )
        ),
    )
    until(
        "garbage collection of the deployment",
        lambda: not _exists(lambda: apps.read_namespaced_deployment("gone-triton", namespace)),
        timeout_s=90,
    )


def test_deleting_a_recommender_removes_its_keys_from_a_shared_external_valkey(
    kube_cluster: KubeCluster,
    namespace: str,
    operator: KopfRunner,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = redis.Redis.from_url(redis_server.url)
    for owner in (f"{namespace}/shared", f"{namespace}/neighbour"):
        monkeypatch.setenv(keys.NAMESPACE_ENV, owner)
        store.set(keys.top_category_key("u1"), "shoes")
        store.zadd(keys.recent_items_key("u1"), {"item-1": 1.0})
    monkeypatch.delenv(keys.NAMESPACE_ENV)
    external = {**UNTRAINED, "featureStore": {"onlineStore": {"address": f"127.0.0.1:{redis_server.port}"}}}
    objects = client.CustomObjectsApi(kube_cluster.api)
    _create(objects, namespace, "shared", external)
    until(
        "the finalizer",
        lambda: (
            "recsys.io/finalizer"
            in objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shared")[
                "metadata"
            ].get("finalizers", [])
        ),
    )
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shared")
    until(
        "the recommender to go",
        lambda: (
            not _exists(
                lambda: objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "shared")
            )
        ),
    )
    left = sorted(k.decode() for k in store.scan_iter(match=f"{namespace}/*"))
    assert left and all(k.startswith(f"{namespace}/neighbour:") for k in left), left


def _create(
    objects: client.CustomObjectsApi, namespace: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RecommenderSystem",
        "metadata": {"name": name},
        "spec": spec,
    }
    return dict(objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body))


def _exists(read: Callable[[], Any]) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_deleting_a_running_training_run_cancels_its_pipeline(
    kube_cluster: KubeCluster, namespace: str, operator: KopfRunner, tmp_path: Path
) -> None:
    objects = client.CustomObjectsApi(kube_cluster.api)
    _create(objects, namespace, "homepage", SPEC)

    def submitted() -> str | None:
        try:
            run = objects.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "trainingruns", "homepage-initial"
            )
        except client.ApiException:
            return None
        return (run.get("status") or {}).get("kfpRunId")

    run_id = until("the initial run's pipeline", submitted)
    runs = LocalRunner(tmp_path / "runs")
    assert not runs.status(run_id).finished
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, "trainingruns", "homepage-initial")

    def gone() -> bool:
        try:
            objects.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "trainingruns", "homepage-initial"
            )
        except client.ApiException as exc:
            return bool(exc.status == 404)
        return False

    until("the TrainingRun to be deleted", gone)
    assert runs.status(run_id).state == "CANCELED"
