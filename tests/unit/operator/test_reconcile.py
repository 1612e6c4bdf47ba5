"""One reconcile pass over a RecommenderSystem, against an in-memory cluster double.

The real API server path is covered in tests/integration/kube; here the orchestration:
what is applied, what is observed, what status results.
"""

from __future__ import annotations

from typing import Any

import pytest

from recsys_operator.adapters.eks import CapacityState
from recsys_operator.adapters.kube import ClusterCallError, KindNotServedError
from recsys_operator.manifests.common import Manifest
from recsys_operator.reconcilers.recommender_system import reconcile, release, spec_problems


class RecordingCluster:
    def __init__(self, ready: bool = False, served: frozenset[str] = frozenset({"NodePool"})) -> None:
        self.objects: dict[tuple[str, str, str], Manifest] = {}
        self.ready = ready
        self.served = served
        self.deleted: list[tuple[str, str]] = []
        self.listed: dict[str, list[Manifest]] = {}  # kind -> what `select` answers

    def apply(self, manifest: Manifest) -> Manifest:
        if manifest["kind"] in ("NodePool", "ServiceMonitor") and manifest["kind"] not in self.served:
            raise KindNotServedError(
                f"{manifest['kind']}.{manifest['apiVersion']} is not served by this cluster"
            )
        key = (manifest["kind"], manifest["metadata"].get("namespace", ""), manifest["metadata"]["name"])
        stored = {**manifest, "status": {"readyReplicas": 1} if self.ready else {}}
        self.objects[key] = stored
        return stored

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None:
        return self.objects.get((kind, namespace or "", name))

    def select(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        label_selector: dict[str, str] | None = None,
        field_selector: dict[str, str] | None = None,
    ) -> list[Manifest]:
        labels = label_selector or {}
        return [
            o
            for o in self.listed.get(kind, [])
            if all(o["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
        ]

    def hpa_api_version(self) -> str:
        return "autoscaling/v2beta2"

    def patch_status(self, api_version: str, kind: str, name: str, namespace: str, status: Manifest) -> None:
        raise AssertionError("a RecommenderSystem pass patches only its own status")

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        self.deleted.append((kind, name))
        return self.objects.pop((kind, namespace or "", name), None) is not None


def _body(spec: dict[str, Any], status: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": "homepage", "namespace": "shop", "uid": "u-1", "generation": generation},
        "spec": spec,
        "status": status or {},
    }


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_a_valid_spec_applies_every_child_and_waits_for_training() -> None:
    cluster = RecordingCluster()
    status = reconcile(_body({}), cluster)
    assert sorted((kind, name) for kind, _, name in cluster.objects) == [
        ("ConfigMap", "homepage-api-config"),
        ("ConfigMap", "homepage-events-config"),
        ("Deployment", "homepage-api"),
        ("Deployment", "homepage-triton"),
        ("HorizontalPodAutoscaler", "homepage-triton"),
        ("NetworkPolicy", "homepage-api"),
        ("NetworkPolicy", "homepage-events"),
        ("NetworkPolicy", "homepage-triton"),
        ("NetworkPolicy", "homepage-valkey"),
        ("PersistentVolumeClaim", "homepage-event-log"),
        ("PersistentVolumeClaim", "homepage-models"),
        ("Service", "homepage-api"),
        ("Service", "homepage-events"),
        ("Service", "homepage-triton"),
        ("Service", "homepage-valkey"),
        ("StatefulSet", "homepage-events"),
        ("StatefulSet", "homepage-valkey"),
        ("TrainingRun", "homepage-initial"),
    ]
    run = cluster.objects[("TrainingRun", "shop", "homepage-initial")]
    assert run["spec"] == {"recommenderRef": {"name": "homepage"}, "type": "Initial", "promote": "Auto"}
    assert status["lastTrainingRun"] == "homepage-initial"
    assert (
        cluster.objects[("HorizontalPodAutoscaler", "shop", "homepage-triton")]["apiVersion"]
        == "autoscaling/v2beta2"
    )
    assert status["observedGeneration"] == 1
    ready = _condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ValkeyNotReady")


def test_ready_once_children_are_ready_and_a_model_version_serves() -> None:
    cluster = RecordingCluster(ready=True)
    status = reconcile(_body({}, status={"model": {"currentVersion": 2}}), cluster)
    assert _condition(status, "Ready")["status"] == "True"
    assert _condition(status, "IndexReady")["message"] == "model version 2 holds the FAISS index"


def test_an_invalid_spec_applies_nothing_and_stalls_with_field_names() -> None:
    cluster = RecordingCluster()
    status = reconcile(
        _body({"serving": {"replicas": 3, "maxReplicas": 1}, "filtering": {"windowDays": 0}}), cluster
    )
    assert cluster.objects == {}
    stalled = _condition(status, "Stalled")
    assert stalled["status"] == "True"
    assert "spec.filtering.windowDays" in stalled["message"]


def test_suspended_recommenders_are_observed_but_not_changed() -> None:
    cluster = RecordingCluster()
    status = reconcile(_body({"suspend": True}), cluster)
    assert cluster.objects == {}
    assert _condition(status, "Ready")["reason"] == "Suspended"


def test_a_second_pass_keeps_transition_times_of_unchanged_conditions() -> None:
    cluster = RecordingCluster()
    first = reconcile(_body({}), cluster)
    second = reconcile(_body({}, status=first, generation=2), cluster)
    assert (
        _condition(second, "Ready")["lastTransitionTime"] == _condition(first, "Ready")["lastTransitionTime"]
    )
    assert second["observedGeneration"] == 2


def test_type_errors_are_reported_per_field() -> None:
    _, problems = spec_problems({"ranking": {"topK": "many"}, "suspend": "maybe"})
    assert any(p.startswith("spec.ranking.topK:") for p in problems)
    assert any(p.startswith("spec.suspend:") for p in problems)


def test_the_initial_run_is_created_once_and_not_when_a_model_serves() -> None:
    cluster = RecordingCluster()
    first = reconcile(_body({}), cluster)
    del cluster.objects[("TrainingRun", "shop", "homepage-initial")]
    reconcile(_body({}, status=first), cluster)
    assert ("TrainingRun", "shop", "homepage-initial") not in cluster.objects
    serving = RecordingCluster()
    reconcile(_body({}, status={"model": {"currentVersion": 1}}), serving)
    assert not [k for k in serving.objects if k[0] == "TrainingRun"]


KARPENTER = {"capacity": {"provider": "karpenter", "nodePool": "gpu-pool", "maxNodes": 3}}


def test_karpenter_capacity_applies_a_tainted_gpu_node_pool() -> None:
    cluster = RecordingCluster()
    status = reconcile(_body(KARPENTER), cluster)
    pool = cluster.objects[("NodePool", "", "gpu-pool")]
    assert pool["spec"]["limits"] == {"nvidia.com/gpu": "3"}
    assert pool["spec"]["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    assert "ownerReferences" not in pool["metadata"]  # cluster-scoped: released by the finalizer
    assert _condition(status, "CapacityReady")["status"] == "True"


def test_missing_karpenter_is_reported_not_crashed_on() -> None:
    status = reconcile(_body(KARPENTER), RecordingCluster(served=frozenset()))
    capacity = _condition(status, "CapacityReady")
    assert (capacity["status"], capacity["reason"]) == ("False", "CapacityPending")
    assert "Karpenter is not installed" in capacity["message"]


def test_eks_node_groups_go_through_the_injected_adapter() -> None:
    calls: list[tuple[str, str, int, int]] = []

    class Eks:
        def reconcile(self, cluster: str, node_group: str, min_nodes: int, max_nodes: int) -> CapacityState:
            calls.append((cluster, node_group, min_nodes, max_nodes))
            return CapacityState(ready=False, message="scaling 0-2 -> 1-4")

    spec = {
        "capacity": {
            "provider": "eks-nodegroup",
            "clusterName": "c",
            "nodeGroup": "gpu",
            "minNodes": 1,
            "maxNodes": 4,
        }
    }
    status = reconcile(_body(spec), RecordingCluster(), eks=Eks)  # type: ignore[arg-type]
    assert calls == [("c", "gpu", 1, 4)]
    assert _condition(status, "CapacityReady")["message"] == "scaling 0-2 -> 1-4"


def test_deletion_releases_the_recommenders_keys_and_the_cluster_scoped_node_pool() -> None:
    cluster = RecordingCluster()
    reconcile(_body(KARPENTER), cluster)
    asked: list[tuple[str, str]] = []

    def delete_keys(url: str, namespace: str) -> int:
        asked.append((url, namespace))
        return 7

    released = release(_body(KARPENTER), cluster, delete_keys)
    ns = _body(KARPENTER)["metadata"]["namespace"]
    assert released == [("Valkey keys", f"7 under {ns}/homepage:"), ("NodePool", "gpu-pool")]
    assert asked == [(f"redis://homepage-valkey.{ns}.svc:6379/0", f"{ns}/homepage")]
    again = release(_body(KARPENTER), cluster, delete_keys)
    assert [what for what, _ in again] == ["Valkey keys"]  # the pool is already gone: nothing to wait for


def test_an_unreachable_valkey_does_not_keep_the_node_pool() -> None:
    cluster = RecordingCluster()
    reconcile(_body(KARPENTER), cluster)

    def unreachable(url: str, namespace: str) -> int:
        raise ConnectionRefusedError("no route")

    released = dict(release(_body(KARPENTER), cluster, unreachable))
    assert "left under" in released["Valkey keys"] and "no route" in released["Valkey keys"]
    assert released["NodePool"] == "gpu-pool"


def _stored(cluster: RecordingCluster, kind: str, name: str, **status: Any) -> None:
    cluster.objects[(kind, "shop", name)] = {"kind": kind, "metadata": {"name": name}, "status": status}


def test_a_component_waiting_on_a_claim_or_a_pod_says_which_and_why() -> None:
    cluster = RecordingCluster()
    reconcile(_body({}), cluster)  # creates the children (none ready)
    cluster.objects[("PersistentVolumeClaim", "shop", "homepage-models")]["status"] = {"phase": "Pending"}
    # No StorageClass efs-sc in this cluster: get() finds none.
    api_pod = {
        "metadata": {
            "name": "homepage-api-7d9",
            "labels": {"app.kubernetes.io/instance": "homepage", "app.kubernetes.io/component": "api"},
        },
        "status": {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "api",
                    "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "image is not present"}},
                }
            ],
        },
    }
    cluster.listed["Pod"] = [api_pod]
    status = reconcile(_body({}), cluster)
    serving = _condition(status, "ServingReady")
    assert (serving["status"], serving["reason"]) == ("False", "StorageClassNotFound")
    assert (
        "PersistentVolumeClaim homepage-models is Pending: StorageClass 'efs-sc' does not exist"
        in serving["message"]
    )
    assert "0/1 Triton replicas ready" in serving["message"]
    events = _condition(status, "EventServiceReady")  # mounts the same claim
    assert events["reason"] == "StorageClassNotFound"
    api = _condition(status, "ApiReady")
    assert api["reason"] == "ErrImageNeverPull"
    assert "pod homepage-api-7d9 container api: image is not present" in api["message"]
    assert _condition(status, "Ready")["reason"] in {
        "ValkeyNotReady",
        "StorageClassNotFound",
        "AwaitingTraining",
    }


AUTH: dict[str, dict[str, Any]] = {
    "api": {"auth": {"tokenSecretRef": {"name": "api-token"}}},
    "events": {"auth": {"tokenSecretRef": {"name": "events-token"}}},
}


def test_a_missing_token_secret_is_the_front_doors_condition_not_a_log_line() -> None:
    cluster = RecordingCluster(ready=True)  # replicas ready: the Secret alone keeps them from Ready
    status = reconcile(_body(AUTH), cluster)
    api = _condition(status, "ApiReady")
    assert (api["status"], api["reason"]) == ("False", "SecretNotFound")
    assert (
        "Secret api-token (spec.api.auth.tokenSecretRef) in namespace shop does not exist" in api["message"]
    )
    assert "key 'token'" in api["message"]
    events = _condition(status, "EventServiceReady")
    assert (events["status"], events["reason"]) == ("False", "SecretNotFound")
    assert "spec.events.auth.tokenSecretRef" in events["message"]

    cluster.objects[("Secret", "shop", "events-token")] = {"metadata": {"name": "events-token"}, "data": {}}
    status = reconcile(_body(AUTH), cluster)
    events = _condition(status, "EventServiceReady")
    assert events["reason"] == "SecretKeyMissing" and "has no key 'token'" in events["message"]
    # The API's pods read the event service's token too: it is named there until it exists.
    assert _condition(status, "ApiReady")["reason"] == "SecretNotFound"

    for name in ("api-token", "events-token"):
        cluster.objects[("Secret", "shop", name)] = {"metadata": {"name": name}, "data": {"token": "dA=="}}
    status = reconcile(_body(AUTH), cluster)
    assert _condition(status, "ApiReady")["status"] == "True"
    assert _condition(status, "EventServiceReady")["status"] == "True"


def test_a_front_door_scaled_to_zero_does_not_wait_for_its_secret() -> None:
    spec = {"api": {**AUTH["api"], "replicas": 0}, "events": {**AUTH["events"], "replicas": 0}}
    status = reconcile(_body(spec), RecordingCluster(ready=True))
    assert _condition(status, "ApiReady")["reason"] == "Disabled"
    assert _condition(status, "EventServiceReady")["reason"] == "Disabled"


def test_the_index_condition_repeats_why_the_initial_training_does_not_start() -> None:
    cluster = RecordingCluster()
    first = reconcile(_body({}), cluster)
    run = {
        "conditions": [
            {
                "type": "Created",
                "status": "False",
                "reason": "PipelinesUnreachable",
                "message": "Kubeflow Pipelines at http://x: refused",
            }
        ]
    }
    cluster.objects[("TrainingRun", "shop", "homepage-initial")]["status"] = run
    status = reconcile(_body({}, status=first), cluster)
    index = _condition(status, "IndexReady")
    assert index["reason"] == "TrainingNotStarted"
    assert index["message"].startswith(
        "TrainingRun homepage-initial: PipelinesUnreachable: Kubeflow Pipelines at http://x"
    )


def test_ready_components_are_not_diagnosed() -> None:
    cluster = RecordingCluster(ready=True)
    _stored(cluster, "StorageClass", "efs-sc")
    bad = {
        "metadata": {"name": "p", "labels": {}},
        "status": {"containerStatuses": [{"name": "x", "state": {"waiting": {"reason": "ErrImagePull"}}}]},
    }
    cluster.listed["Pod"] = [bad]
    status = reconcile(_body({}, status={"model": {"currentVersion": 1}}), cluster)
    assert _condition(status, "ApiReady")["reason"] == "ApiReady"


def test_deletion_removes_the_provisioned_valkeys_claim_that_no_owner_reference_collects() -> None:
    cluster = RecordingCluster()
    reconcile(_body({}), cluster)
    _stored(cluster, "PersistentVolumeClaim", "data-homepage-valkey-0", phase="Bound")
    released = release(_body({}), cluster, lambda url, namespace: 0)
    assert ("Valkey volume claim", "data-homepage-valkey-0") in released
    assert ("PersistentVolumeClaim", "shop", "data-homepage-valkey-0") not in cluster.objects
    external = {"featureStore": {"onlineStore": {"address": "valkey.example:6379"}}}
    _stored(cluster, "PersistentVolumeClaim", "data-homepage-valkey-0", phase="Bound")
    assert "Valkey volume claim" not in [
        what for what, _ in release(_body(external), cluster, lambda u, n: 0)
    ]


class RefusingCluster(RecordingCluster):
    """The API server refuses (or never answers) applies of one kind, as a real one would."""

    def __init__(self, kind: str, code: int | None, message: str) -> None:
        super().__init__()
        self.refused_kind, self.code, self.message = kind, code, message

    def apply(self, manifest: Manifest) -> Manifest:
        if manifest["kind"] == self.refused_kind:
            name = manifest["metadata"]["name"]
            raise ClusterCallError("apply", manifest["kind"], name, self.code, self.message)
        return super().apply(manifest)


@pytest.mark.parametrize(
    ("code", "reason", "stalled", "reconciling"),
    [
        (422, "ChildRejected", "True", "False"),
        (400, "ChildRejected", "True", "False"),
        (403, "Forbidden", "True", "False"),
        (500, "ApiServerError", "False", "True"),
        (429, "ApiServerError", "False", "True"),
        (409, "ApiServerError", "False", "True"),
        (None, "ApiServerUnreachable", "False", "True"),
    ],
)
def test_a_refused_child_shows_in_the_status_at_once_with_the_servers_message(
    code: int | None, reason: str, stalled: str, reconciling: str
) -> None:
    said = 'Deployment.apps "homepage-triton" is invalid: spec.template.spec.containers[0].resources'
    cluster = RefusingCluster("Deployment", code, said)
    status = reconcile(_body({}), cluster)
    ready = _condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert "Deployment homepage-triton" in ready["message"] and said in ready["message"]
    assert _condition(status, "Stalled")["status"] == stalled
    assert _condition(status, "Reconciling")["status"] == reconciling
    assert status["observedGeneration"] == 1
    # What came before the refused child was applied; the pass stopped there (no training run).
    assert ("PersistentVolumeClaim", "shop", "homepage-models") in cluster.objects
    assert ("TrainingRun", "shop", "homepage-initial") not in cluster.objects
    assert "lastTrainingRun" not in status


def test_a_refusal_after_the_initial_run_started_keeps_its_name_in_the_status() -> None:
    class StatusReadsFail(RecordingCluster):
        def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None:
            if kind == "Deployment":
                raise ClusterCallError("get", kind, name, 503, "the server is currently unable to handle")
            return super().get(api_version, kind, name, namespace)

    status = reconcile(_body({}), StatusReadsFail())
    assert status["lastTrainingRun"] == "homepage-initial"  # a second pass must not start another
    assert _condition(status, "Reconciling")["reason"] == "ApiServerError"


def test_a_refusal_clears_once_the_server_takes_the_child() -> None:
    refused = reconcile(_body({}), RefusingCluster("Service", 403, "services is forbidden"))
    assert _condition(refused, "Stalled")["reason"] == "Forbidden"
    status = reconcile(_body({}, status=refused), RecordingCluster())
    assert _condition(status, "Stalled")["status"] == "False"
    assert _condition(status, "Ready")["reason"] == "ValkeyNotReady"


@pytest.mark.parametrize(
    ("name", "spec", "child"),
    [
        ("a" * 46, {}, "StatefulSet name " + "a" * 46 + "-valkey"),  # revision-hash label: 52 at most
        ("b" * 46, {"featureStore": {"onlineStore": {"address": "valkey:6379"}}}, "-events"),
        ("c" * 60, {}, "Service name " + "c" * 60 + "-valkey (67 characters; at most 63"),
        ("d" * 64, {}, "label app.kubernetes.io/instance (64 characters; at most 63)"),
    ],
)
def test_a_name_too_long_for_a_child_stalls_up_front_naming_the_limit(
    name: str, spec: dict[str, Any], child: str
) -> None:
    cluster = RecordingCluster()
    body = _body(spec)
    body["metadata"]["name"] = name
    status = reconcile(body, cluster)
    stalled = _condition(status, "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "InvalidSpec")
    assert f"metadata.name '{name}'" in stalled["message"] and child in stalled["message"]
    assert "at most 45 characters" in stalled["message"]
    assert cluster.objects == {}  # nothing half-created


def test_the_longest_name_that_fits_applies_every_child() -> None:
    body = _body({})
    body["metadata"]["name"] = "e" * 45
    status = reconcile(body, RecordingCluster())
    assert _condition(status, "Stalled")["status"] == "False"


def _pods_of_the_applied_templates(cluster: RecordingCluster) -> list[Manifest]:
    templates = [
        o["spec"]["template"]
        for (kind, _, name), o in cluster.objects.items()
        if (kind, name) in {("Deployment", "homepage-triton"), ("StatefulSet", "homepage-events")}
    ]
    assert len(templates) == 2
    return [{"metadata": dict(t["metadata"])} for t in templates]


def test_filters_are_ready_only_when_every_writer_and_reader_pod_uses_the_specs_layout() -> None:
    cluster = RecordingCluster()
    reconcile(_body({}), cluster)
    cluster.listed["Pod"] = _pods_of_the_applied_templates(cluster)
    current = _condition(reconcile(_body({}), cluster), "FiltersReady")
    assert (current["status"], current["reason"]) == ("True", "LayoutCurrent")

    narrower = {"filtering": {"windowDays": 3}}
    rolling = _condition(reconcile(_body(narrower, generation=2), cluster), "FiltersReady")
    assert (rolling["status"], rolling["reason"]) == ("False", "LayoutRollingOut")
    assert "1 event service pod(s) and 1 Triton pod(s)" in rolling["message"]

    cluster.listed["Pod"] = _pods_of_the_applied_templates(cluster)  # the rollout replaced them
    done = _condition(reconcile(_body(narrower, generation=2), cluster), "FiltersReady")
    assert (done["status"], done["reason"]) == ("True", "LayoutCurrent")


def test_service_monitors_are_applied_where_the_prometheus_operator_is_installed() -> None:
    cluster = RecordingCluster(served=frozenset({"ServiceMonitor"}))
    status = reconcile(_body({}), cluster)
    monitors = sorted(name for kind, _, name in cluster.objects if kind == "ServiceMonitor")
    assert monitors == ["homepage-api", "homepage-events", "homepage-triton"]
    assert _condition(status, "Stalled")["status"] == "False"


def test_without_the_prometheus_operator_no_monitor_is_applied_and_nothing_fails() -> None:
    cluster = RecordingCluster(served=frozenset())
    status = reconcile(_body({}), cluster)
    assert not [key for key in cluster.objects if key[0] == "ServiceMonitor"]
    assert ("Deployment", "shop", "homepage-api") in cluster.objects
    assert _condition(status, "Stalled")["status"] == "False"
