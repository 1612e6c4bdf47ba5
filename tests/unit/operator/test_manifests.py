"""Child objects built from a RecommenderSystem spec."""

from __future__ import annotations

from typing import Any

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import triton, valkey, web
from recsys_operator.manifests.common import Owner
from recsys_operator.manifests.desired import desired_objects

OWNER = Owner(name="homepage", namespace="shop", uid="1234-abcd")


def _spec(**fields: Any) -> RecommenderSystemSpec:
    return RecommenderSystemSpec.model_validate(fields)


def _kinds(objects: list[dict[str, Any]]) -> list[str]:
    return [o["kind"] for o in objects]


def test_every_child_is_owned_by_the_recommender_and_labelled_for_it() -> None:
    for obj in desired_objects(OWNER, _spec()):
        meta = obj["metadata"]
        assert meta["namespace"] == "shop"
        assert meta["name"].startswith("homepage-")
        (ref,) = meta["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "RecommenderSystem",
            "homepage",
            "1234-abcd",
            True,
        )
        assert meta["labels"]["app.kubernetes.io/instance"] == "homepage"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "recsys-operator"


def test_default_spec_provisions_valkey_autoscaled_triton_and_both_front_doors() -> None:
    assert [(o["kind"], o["metadata"]["name"]) for o in desired_objects(OWNER, _spec())] == [
        ("ConfigMap", "homepage-api-config"),
        ("ConfigMap", "homepage-events-config"),
        ("PersistentVolumeClaim", "homepage-models"),
        ("PersistentVolumeClaim", "homepage-event-log"),
        ("NetworkPolicy", "homepage-valkey"),
        ("NetworkPolicy", "homepage-triton"),
        ("NetworkPolicy", "homepage-api"),
        ("NetworkPolicy", "homepage-events"),
        ("Service", "homepage-valkey"),
        ("StatefulSet", "homepage-valkey"),
        ("Service", "homepage-triton"),
        ("Deployment", "homepage-triton"),
        ("HorizontalPodAutoscaler", "homepage-triton"),
        ("Service", "homepage-api"),
        ("Deployment", "homepage-api"),
        ("Service", "homepage-events"),
        ("StatefulSet", "homepage-events"),
    ]


def test_an_external_valkey_address_provisions_none() -> None:
    spec = _spec(featureStore={"onlineStore": {"address": "valkey.prod:6379"}})
    names = {(o["kind"], o["metadata"]["name"]) for o in desired_objects(OWNER, spec)}
    assert not {n for n in names if n[1] == "homepage-valkey"}  # no Service, StatefulSet or policy
    assert valkey.address(OWNER, spec) == "valkey.prod:6379"
    assert valkey.address(OWNER, _spec()) == "homepage-valkey.shop.svc:6379"


def _filter_layouts(spec: RecommenderSystemSpec) -> dict[str, str]:
    annotation = web.SEEN_FILTER_LAYOUT_ANNOTATION
    return {
        o["kind"]: o["spec"]["template"]["metadata"]["annotations"][annotation]
        for o in desired_objects(OWNER, spec)
        if o["metadata"]["name"] in {"homepage-triton", "homepage-events"} and "template" in o["spec"]
    }


def test_the_filter_writers_and_readers_pods_name_one_layout_that_moves_with_spec_filtering() -> None:
    default, narrower = _filter_layouts(_spec()), _filter_layouts(_spec(filtering={"windowDays": 3}))
    assert set(default) == {"Deployment", "StatefulSet"}  # Triton reads, the event service writes
    assert len(set(default.values())) == 1 and len(set(narrower.values())) == 1
    assert default != narrower
    assert _filter_layouts(_spec(reranking={"temperature": 0.5})) == default  # not a layout knob


def test_with_an_hpa_the_deployment_leaves_replicas_to_it() -> None:
    deployment = triton.deployment(OWNER, _spec(serving={"replicas": 1, "maxReplicas": 3}), "homepage")
    assert "replicas" not in deployment["spec"]
    hpa = triton.autoscaler(OWNER, _spec(serving={"replicas": 1, "maxReplicas": 3}))
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "avg_time_queue_ms"


def test_without_headroom_there_is_no_hpa_and_replicas_are_fixed() -> None:
    spec = _spec(serving={"replicas": 2, "maxReplicas": 2})
    assert "HorizontalPodAutoscaler" not in _kinds(desired_objects(OWNER, spec))
    assert triton.deployment(OWNER, spec, "homepage")["spec"]["replicas"] == 2


def test_gpu_serving_requests_gpus_and_tolerates_gpu_taints() -> None:
    pod = triton.deployment(OWNER, _spec(serving={"resources": {"gpu": 1}}), "homepage")["spec"]["template"][
        "spec"
    ]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_triton_runs_non_root_with_explicit_model_control_on_the_shared_volume() -> None:
    pod = triton.deployment(OWNER, _spec(), "homepage", model_version=3)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "--model-control-mode=explicit" in container["args"]
    assert "--load-model=homepage" in container["args"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "homepage-models"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_selectors_stay_a_stable_subset_of_the_pod_labels() -> None:
    deployment = triton.deployment(OWNER, _spec(), "homepage")
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert set(selector) == {"app.kubernetes.io/instance", "app.kubernetes.io/component"}


def test_model_volume_is_shared_read_write_many_on_the_configured_class() -> None:
    claim = triton.model_volume_claim(
        OWNER, _spec(serving={"modelRepository": {"storageClass": "fsx", "size": "5Gi"}})
    )
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": "fsx",
        "resources": {"requests": {"storage": "5Gi"}},
    }
