"""The Triton pod starts on the version its template names: manifest, init container, and its output."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recsys_operator.adapters.triton import endpoint_urls
from recsys_operator.api.conditions import find
from recsys_operator.api.recommender_system import ModelStatus, RecommenderSystemSpec
from recsys_operator.manifests import triton
from recsys_operator.manifests.common import Owner
from recsys_operator.status import Observed, model_conditions, reconcile_conditions
from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.serving.triton.step import parameters, serving_config
from tests.conftest import version_stub

OWNER = Owner(name="homepage", namespace="shop", uid="1234-abcd")
FUSED = RecommenderSystemSpec.model_validate(
    {"serving": {"graph": "fused"}, "reranking": {"maxPerCategory": 2}}
)


def _pod(
    model_version: int | None, spec: RecommenderSystemSpec = FUSED, pinned: tuple[int, ...] = ()
) -> dict[str, Any]:
    deployment = triton.deployment(OWNER, spec, "homepage_fused", model_version, pinned)
    return dict(deployment["spec"]["template"])


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_the_template_names_the_version_the_pod_renders_and_loads() -> None:
    pod = _pod(3)
    (render,) = pod["spec"]["initContainers"]
    (server,) = pod["spec"]["containers"]
    env = _env(render)
    assert env["RECSYS_MODEL_VERSION_DIR"] == "/models/3"
    assert ServingGraphConfig.model_validate_json(env["RECSYS_SERVING_GRAPH"]) == FUSED.serving_graph()
    assert env["RECSYS_REDIS_URL"] == "redis://homepage-valkey.shop.svc:6379/0"
    assert "--model-repository=/repository/models" in server["args"]
    loads = [a for a in server["args"] if a.startswith("--load-model=")]
    assert loads == ["--load-model=homepage_fused", "--load-model=homepage_popular"]
    assert server["command"] == ["tritonserver"]  # not appended to the serving image's entrypoint
    assert pod["metadata"]["annotations"][triton.VERSION_ANNOTATION] == "3"
    mounts = {m["name"]: m for m in render["volumeMounts"]}
    assert mounts["repository"]["mountPath"] == "/repository" and mounts["models"]["readOnly"]
    assert {"name": "repository", "emptyDir": {}} in pod["spec"]["volumes"]


def test_before_any_version_the_pod_serves_the_popularity_path_only() -> None:
    pod = _pod(None)
    assert _env(pod["spec"]["initContainers"][0])["RECSYS_MODEL_VERSION_DIR"] == ""
    args = pod["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--load-model=")] == ["--load-model=homepage_popular"]


def test_a_new_version_changes_the_pod_template_and_nothing_else_of_the_deployment() -> None:
    two, three = (triton.deployment(OWNER, FUSED, "homepage_fused", v) for v in (2, 3))
    assert two["spec"]["template"] != three["spec"]["template"]
    assert {k: v for k, v in two["spec"].items() if k != "template"} == {
        k: v for k, v in three["spec"].items() if k != "template"
    }


def test_a_valkey_password_reaches_the_triton_steps() -> None:
    spec = RecommenderSystemSpec.model_validate(
        {"featureStore": {"onlineStore": {"passwordSecretRef": "vk"}}}
    )
    (server,) = _pod(1, spec)["spec"]["containers"]
    env = {e["name"]: e for e in server["env"]}
    assert env["VALKEY_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "vk", "key": "password"}}
    assert env["RECSYS_KEY_NAMESPACE"]["value"] == "shop/homepage"  # its keys, apart from others'


def test_every_pod_touching_valkey_prefixes_its_keys_with_the_recommender() -> None:
    from recsys_operator.manifests import api, events

    spec = RecommenderSystemSpec()
    containers = [
        _pod(1, spec)["spec"]["containers"][0],
        api.deployment(OWNER, spec)["spec"]["template"]["spec"]["containers"][0],
        events.statefulset(OWNER, spec)["spec"]["template"]["spec"]["containers"][0],
    ]
    for container in containers:
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["RECSYS_KEY_NAMESPACE"] == f"{OWNER.namespace}/{OWNER.name}", container["name"]


def _run_init_container(pod: dict[str, Any], dest: Path, version_dir: Path | None) -> Path:
    """The init container's command and env, with the volume paths moved under tmp.

    `dest` is a folder inside an otherwise empty parent, as in the pod (its root is read-only).
    """
    (render,) = pod["spec"]["initContainers"]
    env = {**os.environ, **_env(render)}
    if version_dir is not None:
        env["RECSYS_MODEL_VERSION_DIR"] = str(version_dir)
    command = [sys.executable, *render["command"][1:-1], str(dest)]
    assert render["command"][-1] == triton.REPOSITORY
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return dest


def test_the_init_container_renders_the_specs_graph_on_the_version(tmp_path: Path) -> None:
    version = version_stub(tmp_path / "models" / "3")
    repository = _run_init_container(_pod(3), tmp_path / "repository" / "models", version)
    models = {p.name for p in repository.iterdir()}
    assert {"homepage_fused", "fused_retrieve_rank", "homepage_popular", "popular_items"} <= models
    assert "homepage" not in models
    config = (repository / "fused_retrieve_rank" / "config.pbtxt").read_text()
    assert f'string_value: "{version.resolve()}"' in config
    from google.protobuf import json_format, text_format
    from tritonclient.grpc import model_config_pb2

    parsed = json_format.MessageToDict(
        text_format.Parse(config, model_config_pb2.ModelConfig()), preserving_proto_field_name=True
    )
    served = serving_config(parameters(parsed))
    assert served.graph == "fused" and served.category_cap == 2
    assert parsed["parameters"]["redis_url"]["string_value"] == "redis://homepage-valkey.shop.svc:6379/0"


def test_without_a_version_the_init_container_renders_the_popularity_path(tmp_path: Path) -> None:
    repository = _run_init_container(_pod(None), tmp_path / "repository" / "models", None)
    # The popularity ensemble and every step it names (context_preprocessor was once missing:
    # Triton then refused to start, and a pod crash-looped until the first version).
    assert sorted(p.name for p in repository.iterdir()) == [
        "context_preprocessor",
        "homepage_popular",
        "popular_items",
    ]


def test_pinned_versions_are_rendered_and_loaded_beside_the_current_one() -> None:
    pod = _pod(3, pinned=(2, 1, 2))
    assert _env(pod["spec"]["initContainers"][0])["RECSYS_PINNED_VERSIONS"] == "[1, 2]"
    loads = [a for a in pod["spec"]["containers"][0]["args"] if a.startswith("--load-model=")]
    assert loads == [
        "--load-model=homepage_fused",
        "--load-model=homepage_popular",
        "--load-model=homepage_fused__v1",
        "--load-model=homepage_fused__v2",
    ]
    assert "RECSYS_PINNED_VERSIONS" not in _env(_pod(3)["spec"]["initContainers"][0])  # no experiment
    assert _pod(3, pinned=(2,)) != _pod(3)  # a new arm's version rolls the pods
    with pytest.raises(ValueError, match="need a current model version"):
        _pod(None, pinned=(2,))


def test_the_init_container_renders_the_pinned_versions_from_sibling_folders(tmp_path: Path) -> None:
    version = version_stub(tmp_path / "models" / "3")
    pinned = version_stub(tmp_path / "models" / "2")
    repository = _run_init_container(_pod(3, pinned=(2,)), tmp_path / "repository" / "models", version)
    models = {p.name for p in repository.iterdir()}
    assert {"homepage_fused", "homepage_fused__v2", "fused_retrieve_rank__v2"} <= models
    config = (repository / "fused_retrieve_rank__v2" / "config.pbtxt").read_text()
    assert f'string_value: "{pinned.resolve()}"' in config and 'name: "fused_retrieve_rank__v2"' in config


def test_a_pinned_version_missing_from_the_volume_fails_the_init_container(tmp_path: Path) -> None:
    version = version_stub(tmp_path / "models" / "3")
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _run_init_container(_pod(3, pinned=(2,)), tmp_path / "repository" / "models", version)
    assert "models/2 lacks" in failed.value.stderr
    assert not (tmp_path / "repository" / "models").exists()  # no repository to start half an experiment


T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HEALTHY: dict[str, Any] = {
    "triton_desired": 1,
    "triton_ready": 1,
    "valkey_provisioned": True,
    "valkey_ready": True,
    "model_version": 3,
}


def test_the_recommender_reconcile_keeps_model_up_to_date_in_step_with_status_model() -> None:
    blocked = ModelStatus(current_version=3, latest_version=4, transition="BlockedByFailedLoad", message="x")
    written = model_conditions([], blocked, 2, T0)  # what promotion wrote
    kept = reconcile_conditions(written, Observed(**HEALTHY), 2, T0)  # status.model not observed
    assert find(kept, "ModelUpToDate") == find(written, "ModelUpToDate")
    fixed = ModelStatus(current_version=4, previous_version=3, latest_version=4)
    updated = reconcile_conditions(written, Observed(**HEALTHY, model=fixed), 2, T0)
    condition = find(updated, "ModelUpToDate")
    assert condition is not None and (condition.status, condition.reason) == ("True", "UpToDate")
    ready = find(updated, "Ready")
    assert ready is not None and ready.status == "True"  # the model condition is not part of Ready


def test_the_pods_to_switch_are_the_ready_addresses_of_the_triton_service() -> None:
    endpoints = {
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.7"}, {"ip": "10.0.0.5"}],
                "notReadyAddresses": [{"ip": "10.0.0.9"}],  # starts on the template's version
                "ports": [{"name": "http", "port": 8000}, {"name": "grpc", "port": 8001}],
            }
        ]
    }
    assert endpoint_urls(endpoints) == ["10.0.0.5:8000", "10.0.0.7:8000"]
    assert endpoint_urls(None) == [] and endpoint_urls({"subsets": None}) == []


def test_search_time_retrieval_knobs_reach_the_pod_so_a_change_rolls_triton() -> None:
    tuned = RecommenderSystemSpec.model_validate(
        {"retrieval": {"factory": "IVF64,Flat", "nprobe": 64, "efSearch": 9}}
    )
    (render,) = _pod(3, tuned)["spec"]["initContainers"]
    served = ServingGraphConfig.model_validate_json(_env(render)["RECSYS_SERVING_GRAPH"])
    assert (served.nprobe, served.ef_search) == (64, 9)
    assert _pod(3, tuned) != _pod(
        3, RecommenderSystemSpec.model_validate({"retrieval": {"factory": "IVF64,Flat"}})
    )
