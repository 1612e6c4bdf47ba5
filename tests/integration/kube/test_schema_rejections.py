"""A corpus of malformed specs: the 1.20 server schema rejects each one naming the field.

What OpenAPI on 1.20 cannot say (unknown fields are pruned, not rejected; no CEL for
cross-field rules) is the operator's job: for those the server accepts the object and
the pydantic model or `validate()` must reject it, again naming the field.
Every server check is a dry run: nothing is stored, so the table stays cheap.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from recsys_local.testbed.cluster import KubeCluster
from recsys_operator.adapters.kube import server_message
from recsys_operator.api import API_VERSION, GROUP, VERSION
from recsys_operator.api.recommender_system import RecommenderSystemSpec, validate
from recsys_operator.api.training_run import TrainingRunSpec
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers.recommender_system import spec_problems

RS, TR = "RecommenderSystem", "TrainingRun"
ARM_A = {"name": "a", "version": "latest", "weight": 50}
ARM_B = {"name": "b", "version": "popular", "weight": 50}
SHADOW = {"name": "s", "version": 3, "shadow": True}
MISSING = object()  # the object has no spec at all
REF = {"recommenderRef": {"name": "homepage"}}


class Malformed(NamedTuple):
    kind: str
    spec: Any
    field: str  # as the server names it in its message
    model_rejects: bool = True  # pydantic (lax mode) coerces "yes"/1 to booleans; the server does not


def rs(path: str, value: Any, field: str | None = None, model_rejects: bool = True) -> Malformed:
    """A RecommenderSystem whose spec has `value` at the dotted `path`."""
    spec: dict[str, Any] = {}
    node = spec
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return Malformed(RS, spec, field or f"spec.{path}", model_rejects)


def tr(spec: dict[str, Any], field: str, model_rejects: bool = True) -> Malformed:
    return Malformed(TR, spec, field, model_rejects)


SERVER_REJECTS: dict[str, Malformed] = {
    # filtering (seen-items filter)
    "window-days-string": rs("filtering.windowDays", "seven"),
    "window-days-zero": rs("filtering.windowDays", 0),
    "window-days-over-a-year": rs("filtering.windowDays", 366),
    "window-days-fractional": rs("filtering.windowDays", 7.5),
    "filter-capacity-zero": rs("filtering.capacity", 0),
    "error-rate-one-half": rs("filtering.errorRate", 0.5),
    "error-rate-above-one-half": rs("filtering.errorRate", 0.7),
    "error-rate-zero": rs("filtering.errorRate", 0),
    "error-rate-negative": rs("filtering.errorRate", -0.1),
    "error-rate-string": rs("filtering.errorRate", "low"),
    "filter-backend-unknown": rs("filtering.backend", "bloom"),
    "filter-ttl-zero": rs("filtering.ttlSeconds", 0),
    "filtering-not-an-object": rs("filtering", "yes"),
    # popularity
    "half-life-zero": rs("popularity.halfLifeHours", 0),
    "half-life-negative": rs("popularity.halfLifeHours", -1),
    "era-half-lives-below-two": rs("popularity.eraHalfLives", 1),
    "era-half-lives-above-64": rs("popularity.eraHalfLives", 65),
    # ranking and reranking
    "top-k-zero": rs("ranking.topK", 0),
    "top-k-too-large": rs("ranking.topK", 10_001),
    "num-items-zero": rs("reranking.numItems", 0),
    "num-items-too-large": rs("reranking.numItems", 1_001),
    "max-per-category-zero": rs("reranking.maxPerCategory", 0),
    "temperature-negative": rs("reranking.temperature", -0.5),
    # serving
    "replicas-negative": rs("serving.replicas", -1),
    "replicas-too-many": rs("serving.replicas", 101),
    "max-replicas-zero": rs("serving.maxReplicas", 0),
    "queue-time-target-zero": rs("serving.queueTimeTargetMs", 0),
    "graph-unknown": rs("serving.graph", "dag"),
    "gpu-negative": rs("serving.resources.gpu", -1),
    "gpu-too-many": rs("serving.resources.gpu", 9),
    "cpu-not-a-string": rs("serving.resources.cpu", 2),
    "canary-requests-negative": rs("serving.rollout.canaryRequests", -1),
    "keep-versions-zero": rs("serving.rollout.keepVersions", 0),
    "keep-versions-too-many": rs("serving.rollout.keepVersions", 11),
    "serving-image-not-a-string": rs("serving.image", 5),
    # training
    "replay-ratio-negative": rs("training.historyReplayRatio", -0.1),
    "replay-ratio-too-large": rs("training.historyReplayRatio", 10.5),
    "initial-not-a-boolean": rs("training.initial", "yes", model_rejects=False),
    "training-gpu-not-a-boolean": rs("training.gpu", 1, model_rejects=False),
    # capacity
    "capacity-provider-unknown": rs("capacity.provider", "gke"),
    "min-nodes-negative": rs("capacity.minNodes", -1),
    "max-nodes-too-many": rs("capacity.maxNodes", 1_001),
    "instance-types-not-a-list": rs("capacity.instanceTypes", "g5.xlarge"),
    "instance-type-not-a-string": rs("capacity.instanceTypes", [1]),
    # data sources and feature store
    "layout-unknown": rs("dataSources.layout", "csv"),
    "unknown-users-policy-unknown": rs("dataSources.unknownUsers", "keep"),
    "unknown-items-policy-unknown": rs("dataSources.unknownItems", "profile-less"),
    "event-type-target-unknown": rs(
        "dataSources.eventTypes", {"click": "Klick"}, field="spec.dataSources.eventTypes.click"
    ),
    "event-types-not-a-mapping": rs("dataSources.eventTypes", ["click"]),
    "generator-items-below-20": rs("dataSources.generator.items", 19),
    "generator-days-too-many": rs("dataSources.generator.days", 100),
    "generator-users-zero": rs("dataSources.generator.users", 0),
    "feast-project-not-snake-case": rs("featureStore.project", "Home-Page"),
    "offline-store-type-unknown": rs("featureStore.offlineStore.type", "bigquery"),
    "online-store-tls-not-a-boolean": rs("featureStore.onlineStore.tls", "true", model_rejects=False),
    "suspend-not-a-boolean": rs("suspend", "no", model_rejects=False),
    # Kubernetes quantities (requests, limits, volume sizes)
    "cpu-with-a-word": rs("serving.resources.cpu", "2 cores"),
    "memory-in-gigabytes": rs("serving.resources.memory", "8GB"),
    "api-memory-negative": rs("api.resources.memory", "-1Gi"),
    "training-cpu-spelled-out": rs("training.resources.cpu", "two"),
    "event-log-size-without-number": rs("events.storage", "Gi"),
    "model-volume-size-in-words": rs("serving.modelRepository.size", "20 gigabytes"),
    "valkey-volume-size-with-a-space": rs("featureStore.onlineStore.storage", "1.5 Gi"),
    # image references
    "serving-image-with-a-space": rs("serving.image", "my image:1"),
    "api-image-uppercase": rs("api.image", "ghcr.io/Shop/API:1"),
    "training-image-empty-tag": rs("training.image", "workloads:"),
    "valkey-image-with-a-scheme": rs("featureStore.onlineStore.image", "docker://valkey:8"),
    # addresses, object names, endpoints
    "online-address-without-port": rs("featureStore.onlineStore.address", "valkey"),
    "online-address-as-a-url": rs("featureStore.onlineStore.address", "redis://valkey:6379"),
    "online-address-port-too-large": rs("featureStore.onlineStore.address", "valkey:70000"),
    "storage-class-uppercase": rs("serving.modelRepository.storageClass", "EFS_SC"),
    "event-storage-class-with-a-space": rs("events.storageClass", "efs sc"),
    "password-secret-uppercase": rs("featureStore.onlineStore.passwordSecretRef", "Valkey-Auth"),
    "kfp-endpoint-without-scheme": rs("training.kfpEndpoint", "ml-pipeline:8888"),
    "node-pool-uppercase": rs("capacity.nodePool", "GPU"),
    "eks-cluster-name-with-a-space": rs("capacity.clusterName", "my cluster"),
    "instance-type-without-size": rs("capacity.instanceTypes", ["g5"]),
    "instance-types-empty": rs("capacity.instanceTypes", []),
    # data and artifact locations: absolute or s3://, never relative or traversing
    "data-uri-relative": rs("dataSources.uri", "data/shop"),
    "data-uri-traversing": rs("dataSources.uri", "/data/../etc"),
    "events-uri-file-scheme": rs("dataSources.eventsUri", "file:///events"),
    "interactions-uri-with-a-space": rs("dataSources.interactionsUri", "/data/my interactions.csv"),
    "artifact-root-relative": rs("training.artifactRoot", "artifacts"),
    "offline-store-bucket-uppercase": rs("featureStore.offlineStore.uri", "s3://MyBucket/x"),
    "s3-bucket-too-short": rs("dataSources.uri", "s3://b/prefix"),
    "event-catalog-relative": rs("events.catalog", "catalog"),
    # model shapes and the index factory
    "factory-typo": rs("retrieval.factory", "HSNW32"),
    "factory-with-a-space": rs("retrieval.factory", "IVF1024 Flat"),
    "factory-lowercase": rs("retrieval.factory", "ivf1024,flat"),
    "query-layer-zero": rs("models.twoTower.queryLayers", [64, 0]),
    "bottom-layer-negative": rs("models.dlrm.bottomLayers", [-1, 64]),
    "too-many-top-layers": rs("models.dlrm.topLayers", [8] * 9),
    # experiment (the schema's part: types, bounds, enums, names)
    "experiment-without-arms": rs("experiment", {"name": "e"}, "spec.experiment.arms"),
    "experiment-one-arm": rs("experiment", {"name": "e", "arms": [ARM_A]}, "spec.experiment.arms"),
    "experiment-nine-arms": rs(
        "experiment",
        {"name": "e", "arms": [{**ARM_A, "name": f"a{i}"} for i in range(9)]},
        "spec.experiment.arms",
    ),
    "experiment-name-uppercase": rs(
        "experiment", {"name": "Ranker", "arms": [ARM_A, ARM_B]}, "spec.experiment.name"
    ),
    "experiment-arm-name-with-space": rs(
        "experiment",
        {"name": "e", "arms": [{**ARM_A, "name": "arm a"}, ARM_B]},
        "spec.experiment.arms.name",
    ),
    "experiment-arm-weight-over-100": rs(
        "experiment",
        {"name": "e", "arms": [{**ARM_A, "weight": 150}, ARM_B]},
        "spec.experiment.arms.weight",
    ),
    "experiment-arm-weight-negative": rs(
        "experiment",
        {"name": "e", "arms": [{**ARM_A, "weight": -10}, ARM_B]},
        "spec.experiment.arms.weight",
    ),
    "experiment-arm-without-version": rs(
        "experiment",
        {"name": "e", "arms": [{"name": "a", "weight": 50}, ARM_B]},
        "spec.experiment.arms.version",
    ),
    "experiment-goal-unknown": rs(
        "experiment", {"name": "e", "arms": [ARM_A, ARM_B], "goal": "revenue"}, "spec.experiment.goal"
    ),
    "experiment-promote-lowercase": rs(
        "experiment", {"name": "e", "arms": [ARM_A, ARM_B], "promote": "auto"}, "spec.experiment.promote"
    ),
    "experiment-confidence-one": rs(
        "experiment", {"name": "e", "arms": [ARM_A, ARM_B], "confidence": 1.0}, "spec.experiment.confidence"
    ),
    "experiment-window-ten-seconds": rs(
        "experiment",
        {"name": "e", "arms": [ARM_A, ARM_B], "attributionWindowS": 10},
        "spec.experiment.attributionWindowS",
    ),
    "experiment-error-rate-guardrail-over-one": rs(
        "experiment",
        {"name": "e", "arms": [ARM_A, ARM_B], "guardrails": {"errorRate": 1.5}},
        "spec.experiment.guardrails.errorRate",
    ),
    "experiment-min-homepages-zero": rs(
        "experiment",
        {"name": "e", "arms": [ARM_A, ARM_B], "guardrails": {"minHomepages": 0}},
        "spec.experiment.guardrails.minHomepages",
    ),
    "spec-not-an-object": Malformed(RS, ["filtering"], "spec"),
    "spec-missing": Malformed(RS, MISSING, "spec"),
    # TrainingRun
    "training-run-without-recommender-ref": tr({}, "spec.recommenderRef"),
    "recommender-ref-without-name": tr({"recommenderRef": {}}, "spec.recommenderRef.name"),
    "recommender-ref-empty-name": tr({"recommenderRef": {"name": ""}}, "spec.recommenderRef.name"),
    "recommender-ref-not-an-object": tr({"recommenderRef": "homepage"}, "spec.recommenderRef"),
    "training-type-unknown": tr({**REF, "type": "Full"}, "spec.type"),
    "promote-unknown": tr({**REF, "promote": "Always"}, "spec.promote"),
    "data-window-start-not-a-time": tr(
        {**REF, "dataWindow": {"start": "yesterday"}}, "spec.dataWindow.start"
    ),
    "parameter-value-not-a-string": tr({**REF, "parameters": {"epochs": 3}}, "spec.parameters.epochs"),
    "parameters-not-an-object": tr({**REF, "parameters": "epochs=3"}, "spec.parameters"),
}


class OperatorRule(NamedTuple):
    kind: str
    spec: dict[str, Any]
    field: str  # what the operator's message must name


OPERATOR_REJECTS: dict[str, OperatorRule] = {
    # Unknown fields: 1.20 prunes them silently; the models forbid them (a typo is not a default).
    "typo-in-filtering-field": OperatorRule(RS, {"filtering": {"windowDay": 3}}, "windowDay"),
    "unknown-top-level-field": OperatorRule(RS, {"replicas": 3}, "replicas"),
    "typo-in-serving-field": OperatorRule(RS, {"serving": {"replica": 3}}, "replica"),
    "typo-in-training-run-field": OperatorRule(TR, {**REF, "promte": "Manual"}, "promte"),
    # experiment rules across arms (no CEL on 1.20), and versions the int-or-string schema lets through
    "experiment-weights-not-summing": OperatorRule(
        RS, {"experiment": {"name": "e", "arms": [{**ARM_A, "weight": 60}, ARM_B]}}, "sum to 100"
    ),
    "experiment-duplicate-arm-names": OperatorRule(
        RS, {"experiment": {"name": "e", "arms": [ARM_A, {**ARM_B, "name": "a"}]}}, "appear more than once"
    ),
    "experiment-two-shadow-arms": OperatorRule(
        RS,
        {"experiment": {"name": "e", "arms": [{**ARM_A, "weight": 100}, SHADOW, {**SHADOW, "name": "t"}]}},
        "at most one shadow arm",
    ),
    "experiment-shadow-with-weight": OperatorRule(
        RS,
        {"experiment": {"name": "e", "arms": [{**ARM_A, "weight": 90}, {**SHADOW, "weight": 10}]}},
        "weight must be 0",
    ),
    "experiment-shadow-on-popular": OperatorRule(
        RS,
        {"experiment": {"name": "e", "arms": [{**ARM_A, "weight": 100}, {**SHADOW, "version": "popular"}]}},
        "shadow",
    ),
    "experiment-live-arm-weight-zero": OperatorRule(
        RS,
        {"experiment": {"name": "e", "arms": [{**ARM_A, "weight": 100}, {**ARM_B, "weight": 0}]}},
        "weight 0",
    ),
    "experiment-version-zero": OperatorRule(
        RS, {"experiment": {"name": "e", "arms": [{**ARM_A, "version": 0}, ARM_B]}}, "version must be >= 1"
    ),
    "experiment-version-keyword-unknown": OperatorRule(
        RS, {"experiment": {"name": "e", "arms": [{**ARM_A, "version": "newest"}, ARM_B]}}, "arms.0.version"
    ),
    "experiment-typo-in-arm": OperatorRule(
        RS, {"experiment": {"name": "e", "arms": [{**ARM_A, "wieght": 50}, ARM_B]}}, "wieght"
    ),
    # Cross-field rules: CEL would express them, 1.20 has none; validate() does.
    "replicas-above-max-replicas": OperatorRule(
        RS, {"serving": {"replicas": 3, "maxReplicas": 2}}, "spec.serving.replicas"
    ),
    "min-nodes-above-max-nodes": OperatorRule(
        RS, {"capacity": {"minNodes": 3, "maxNodes": 2}}, "spec.capacity.minNodes"
    ),
    "karpenter-without-node-pool": OperatorRule(
        RS, {"capacity": {"provider": "karpenter"}}, "spec.capacity.nodePool"
    ),
    "eks-nodegroup-without-cluster": OperatorRule(
        RS, {"capacity": {"provider": "eks-nodegroup", "nodeGroup": "gpu"}}, "spec.capacity.clusterName"
    ),
    "seed-layout-without-uri": OperatorRule(RS, {"dataSources": {"layout": "seed"}}, "spec.dataSources.uri"),
    "rds-layout-with-generator": OperatorRule(
        RS,
        {"dataSources": {"layout": "rds", "uri": "s3://bucket/p", "generator": {}}},
        "spec.dataSources.generator",
    ),
    "personalize-layout-without-uri": OperatorRule(
        RS, {"dataSources": {"layout": "personalize"}}, "spec.dataSources.uri"
    ),
    "event-types-with-another-layout": OperatorRule(
        RS,
        {"dataSources": {"layout": "rds", "uri": "s3://bucket/p", "eventTypes": {"rate": "View"}}},
        "spec.dataSources.eventTypes only applies to layout personalize",
    ),
    "event-types-differing-only-in-case": OperatorRule(
        RS,
        {
            "dataSources": {
                "layout": "personalize",
                "uri": "/d",
                "eventTypes": {"Rate": "View", "rate": "Purchase"},
            }
        },
        "spec.dataSources.eventTypes: 'Rate' (View) and 'rate' (Purchase) differ only in case",
    ),
    "bottom-mlp-not-ending-at-the-embedding-size": OperatorRule(
        RS, {"models": {"dlrm": {"embeddingDim": 32}}}, "bottomLayers must end with embeddingDim"
    ),
    "more-ivf-lists-than-generated-items": OperatorRule(
        RS, {"retrieval": {"factory": "IVF4096,Flat"}}, "spec.retrieval.factory asks for 4096 IVF lists"
    ),
    "no-ivf-lists": OperatorRule(RS, {"retrieval": {"factory": "IVF0,Flat"}}, "0 IVF lists"),
    "more-ranked-than-retrieved": OperatorRule(
        RS,
        {"retrieval": {"topK": 50}, "ranking": {"topK": 100}, "reranking": {"numItems": 20}},
        "spec.ranking.topK",
    ),
    "more-items-than-ranked-candidates": OperatorRule(
        RS, {"ranking": {"topK": 10}, "reranking": {"numItems": 20}}, "spec.reranking.numItems"
    ),
}


def _dry_run_create(cluster: KubeCluster, kind: str, spec: Any, namespace: str = "default") -> dict[str, Any]:
    plural = "recommendersystems" if kind == RS else "trainingruns"
    body: dict[str, Any] = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": "malformed"}}
    if spec is not MISSING:
        body["spec"] = spec
    objects = client.CustomObjectsApi(cluster.api)
    created: dict[str, Any] = objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body, dry_run="All"
    )
    return created


def _model_problems(kind: str, spec: dict[str, Any]) -> str:
    """The operator's verdict on a spec: pydantic errors, then validate()'s rules; '' when valid."""
    try:
        if kind == TR:
            TrainingRunSpec.model_validate(spec)
            return ""
        return "\n".join(validate(RecommenderSystemSpec.model_validate(spec)))
    except ValidationError as exc:
        return str(exc)


def test_the_corpus_is_large_enough() -> None:
    assert len(SERVER_REJECTS) + len(OPERATOR_REJECTS) >= 50
    assert len(SERVER_REJECTS) >= 50


@pytest.mark.parametrize("case", SERVER_REJECTS.values(), ids=SERVER_REJECTS.keys())
def test_the_server_schema_rejects_a_malformed_spec_naming_the_field(
    kube_cluster: KubeCluster, case: Malformed
) -> None:
    with pytest.raises(ApiException) as caught:
        _dry_run_create(kube_cluster, case.kind, case.spec)
    assert caught.value.status == 422, caught.value.body
    message = server_message(caught.value)
    assert case.field in message, message
    # The pydantic model (what the operator parses) agrees, except for the lax boolean coercions.
    if isinstance(case.spec, dict) and case.model_rejects:
        leaf = case.field.rsplit(".", 1)[-1].split("[")[0]
        problems = _model_problems(case.kind, case.spec)
        assert problems, f"the model accepts what the server rejects: {case.spec}"
        assert leaf in problems, problems


@pytest.mark.parametrize("case", OPERATOR_REJECTS.values(), ids=OPERATOR_REJECTS.keys())
def test_the_operator_rejects_what_the_1_20_schema_cannot_naming_the_field(
    kube_cluster: KubeCluster, case: OperatorRule
) -> None:
    _dry_run_create(kube_cluster, case.kind, case.spec)  # the server lets it through (1.20: no CEL, pruning)
    problems = _model_problems(case.kind, case.spec)
    assert problems, f"nothing rejects {case.spec}"
    assert case.field in problems, problems


# Names: the server takes a RecommenderSystem name up to 253 characters; its children are
# refused beyond 52 (StatefulSets) or 63 (Services, labels), so the operator checks up front.
NAME_CASES = {
    "statefulset-revision-label": ("a" * 46, {}),
    "statefulset-with-external-valkey": (
        "b" * 50,
        {"featureStore": {"onlineStore": {"address": "valkey:6379"}}},
    ),
    "service-name": ("c" * 60, {}),
    "instance-label": ("d" * 64, {}),
    "far-too-long": ("e" * 200, {}),
}


@pytest.mark.parametrize(("name", "spec"), NAME_CASES.values(), ids=NAME_CASES.keys())
def test_the_operator_refuses_a_name_its_children_cannot_carry(
    kube_cluster: KubeCluster, name: str, spec: dict[str, Any]
) -> None:
    objects = client.CustomObjectsApi(kube_cluster.api)
    body = {"apiVersion": API_VERSION, "kind": RS, "metadata": {"name": name}, "spec": spec}
    objects.create_namespaced_custom_object(
        GROUP, VERSION, "default", "recommendersystems", body, dry_run="All"
    )
    _, problems = spec_problems(spec, Owner(name=name, namespace="default", uid=""))
    assert problems and f"metadata.name '{name}'" in problems[0], problems
    assert "use a lowercase name of at most 45 characters" in problems[0]
