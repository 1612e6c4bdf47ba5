"""Custom resources on the real server: samples, printer columns, defaulting, status subresource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from recsys_local.testbed.cluster import KubeCluster
from recsys_operator.api import API_VERSION, GROUP, VERSION
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.api.training_run import TrainingRunSpec

REPO = Path(__file__).resolve().parents[3]
SAMPLES_DIR = REPO / "deploy" / "samples"
SAMPLES = sorted(p for p in SAMPLES_DIR.glob("*.yaml") if p.name != "kustomization.yaml")
RS, TR = "recommendersystems", "trainingruns"


def _objects(cluster: KubeCluster) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(cluster.api)


def _create(cluster: KubeCluster, namespace: str, plural: str, kind: str, name: str, **body: Any) -> Any:
    obj = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, **body}
    return _objects(cluster).create_namespaced_custom_object(GROUP, VERSION, namespace, plural, obj)


def _table(output: str) -> tuple[list[str], list[str]]:
    """Header cells and the first row of one `kubectl get` table (cells split on 2+ spaces)."""
    import re

    lines = [line for line in output.splitlines() if line.strip()]
    return re.split(r"\s{2,}", lines[0].strip()), re.split(r"\s{2,}", lines[1].strip())


def _apply_samples(cluster: KubeCluster, namespace: str) -> str:
    """Apply the samples as Argo CD does: through their kustomization (offline, kubectl's own)."""
    return cluster.kubectl("apply", "-n", namespace, "-k", str(SAMPLES_DIR)).stdout


def test_the_kustomization_lists_every_sample() -> None:
    listed = yaml.safe_load((SAMPLES_DIR / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in SAMPLES]


def test_the_samples_are_accepted_by_the_server(kube_cluster: KubeCluster, namespace: str) -> None:
    assert SAMPLES
    applied = _apply_samples(kube_cluster, namespace)
    assert "recommendersystem.recsys.io/homepage created" in applied
    assert "trainingrun.recsys.io/homepage-incremental-manual created" in applied
    stored = _objects(kube_cluster).get_namespaced_custom_object(GROUP, VERSION, namespace, RS, "homepage")
    # What the server stored is what the operator will parse.
    spec = RecommenderSystemSpec.model_validate(stored["spec"])
    assert spec.reranking.max_per_category == 4


def test_printer_columns_show_status_written_through_the_status_subresource(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    _apply_samples(kube_cluster, namespace)
    objects = _objects(kube_cluster)
    objects.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        RS,
        "homepage",
        {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "IndexBuilding",
                        "message": "building the FAISS index",
                        "lastTransitionTime": "2026-01-02T03:04:05Z",
                    }
                ],
                "model": {"currentVersion": 3, "transition": "InProgress"},
                "lastTrainingRun": "homepage-initial",
                "experiment": {
                    "name": "ranker",
                    "phase": "Concluded",
                    "winner": "model",
                    "summary": "model(v3) n=1200 5.1% [4.0%,6.4%] P(best)=0.98; popular(popular) n=1190 3.0% [2.2%,4.1%]",
                },
            }
        },
    )
    objects.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        TR,
        "homepage-incremental-manual",
        {
            "status": {
                "state": "SUCCEEDED",
                "kfpRunId": "run-42",
                "metrics": {"recallAtK": 0.31, "auc": 0.78, "queries": 3},
                "data": {"droppedInteractions": 12},
                "conditions": [
                    {
                        "type": "Succeeded",
                        "status": "True",
                        "reason": "TooLittleEvidence",
                        "message": "evaluated on 3 held-out queries",
                        "lastTransitionTime": "2026-01-02T03:04:05Z",
                    }
                ],
            }
        },
    )

    header, row = _table(kube_cluster.kubectl("get", "recsys", "-o", "wide", "-n", namespace).stdout)
    assert header == [
        "NAME",
        "READY",
        "SERVING",
        "TRANSITION",
        "LAST TRAINING",
        "AGE",
        "REASON",
        "MESSAGE",
        "EXPERIMENT",
        "WINNER",
        "ARMS",
    ]
    cells = dict(zip(header, row, strict=True))
    assert cells["READY"] == "False"
    assert cells["SERVING"] == "3"
    assert cells["TRANSITION"] == "InProgress"
    assert cells["LAST TRAINING"] == "homepage-initial"
    assert cells["REASON"] == "IndexBuilding"
    assert cells["MESSAGE"] == "building the FAISS index"
    assert (cells["EXPERIMENT"], cells["WINNER"]) == ("Concluded", "model")
    assert cells["ARMS"].startswith("model(v3) n=1200 5.1%")

    header, row = _table(kube_cluster.kubectl("get", "tr", "-o", "wide", "-n", namespace).stdout)
    assert header[:9] == [
        "NAME",
        "RECOMMENDER",
        "TYPE",
        "STATE",
        "RECALL@K",
        "AUC",
        "QUERIES",
        "OUTCOME",
        "AGE",
    ]
    cells = dict(zip(header, row, strict=False))
    assert (cells["RECOMMENDER"], cells["TYPE"], cells["STATE"]) == ("homepage", "Incremental", "SUCCEEDED")
    assert (cells["RECALL@K"], cells["AUC"], cells["QUERIES"]) == ("0.31", "0.78", "3")
    assert cells["OUTCOME"] == "TooLittleEvidence"  # a 3-query evaluation decided nothing
    assert (cells["RUN"], cells["DROPPED"]) == ("run-42", "12")

    # Both kinds in one command, as an operator's user types it.
    both = kube_cluster.kubectl("get", "recsys,tr", "-o", "wide", "-n", namespace).stdout
    assert "recommendersystem.recsys.io/homepage" in both
    assert "trainingrun.recsys.io/homepage-incremental-manual" in both


def test_server_side_defaulting_fills_every_nested_default_of_an_empty_spec(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    created = _create(kube_cluster, namespace, RS, "RecommenderSystem", "empty", spec={})
    spec = created["spec"]
    assert spec["filtering"]["windowDays"] == 7
    assert spec["filtering"]["errorRate"] == 0.01
    assert spec["serving"]["resources"]["cpu"] == "2"
    assert spec["serving"]["rollout"]["keepVersions"] == 2
    assert spec["featureStore"]["onlineStore"]["image"] == "valkey/valkey-bundle:8.1"
    assert spec["training"]["incrementalSchedule"] == "0 3 * * *"
    # The server's defaults and the model's defaults are the same object.
    assert RecommenderSystemSpec.model_validate(spec) == RecommenderSystemSpec.model_validate({})
    model_defaults = RecommenderSystemSpec.model_validate({}).to_spec()
    not_defaulted = _compare_defaults(spec, model_defaults, "spec")
    # Left to the model: lists (pydantic default_factory has no OpenAPI default) and empty strings
    # (1.20 refuses `default: ""` as null). Anything else the server must fill itself.
    assert all(isinstance(value, list) or value == "" for value in not_defaulted.values()), not_defaulted
    assert "spec.capacity.instanceTypes" in not_defaulted


def _compare_defaults(server: dict[str, Any], model: dict[str, Any], path: str) -> dict[str, Any]:
    """Assert the server filled what it filled with the model's values; return what it left out."""
    assert set(server) <= set(model), f"{path}: server-only keys {set(server) - set(model)}"
    missing: dict[str, Any] = {}
    for key, value in model.items():
        where = f"{path}.{key}"
        if key not in server:
            missing[where] = value
        elif isinstance(value, dict):
            missing.update(_compare_defaults(server[key], value, where))
        else:
            assert server[key] == value, f"{where}: server default {server[key]!r}, model default {value!r}"
    return missing


def test_server_side_defaulting_fills_training_run_defaults(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    created = _create(
        kube_cluster, namespace, TR, "TrainingRun", "minimal", spec={"recommenderRef": {"name": "homepage"}}
    )
    assert created["spec"]["type"] == "Initial"
    assert created["spec"]["promote"] == "Auto"
    assert created["spec"]["dataWindow"] == {}
    assert TrainingRunSpec.model_validate(created["spec"]).type == "Initial"


def test_status_in_main_resource_writes_is_ignored(kube_cluster: KubeCluster, namespace: str) -> None:
    status = {"endpoint": "forged:8001", "model": {"transition": "InProgress"}}
    created = _create(kube_cluster, namespace, RS, "RecommenderSystem", "forged", spec={}, status=status)
    assert "status" not in created or "endpoint" not in created.get("status", {})
    patched = _objects(kube_cluster).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, RS, "forged", {"status": status}
    )
    assert "endpoint" not in patched.get("status", {})
    assert patched["metadata"]["generation"] == 1


def test_status_patches_do_not_bump_generation_but_spec_patches_do(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    objects = _objects(kube_cluster)
    created = _create(kube_cluster, namespace, RS, "RecommenderSystem", "gen", spec={})
    assert created["metadata"]["generation"] == 1
    after_status = objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, RS, "gen", {"status": {"observedGeneration": 1, "endpoint": "triton:8001"}}
    )
    assert after_status["status"]["endpoint"] == "triton:8001"
    assert after_status["metadata"]["generation"] == 1
    after_spec = objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, RS, "gen", {"spec": {"suspend": True}}
    )
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["status"]["observedGeneration"] == 1  # spec writes keep status as it was


def test_unknown_fields_are_pruned_silently_on_1_20(kube_cluster: KubeCluster, namespace: str) -> None:
    """Why the pydantic models forbid extra fields: the server would drop a typo without a word."""
    created = _create(
        kube_cluster, namespace, RS, "RecommenderSystem", "typo", spec={"filtering": {"windowDay": 3}}
    )
    assert "windowDay" not in created["spec"]["filtering"]
    assert created["spec"]["filtering"]["windowDays"] == 7
