"""Pinned versions beside the current one: the rendered repository, and what a live switch leaves alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from recsys_workloads.contracts.rollout import RolloutError
from recsys_workloads.contracts.serving import (
    ENSEMBLE_OF,
    Graph,
    pinned_ensemble,
    pinned_model,
    pinned_version,
)
from recsys_workloads.serving.triton.pod_repository import pinned_versions
from recsys_workloads.serving.triton.repository import (
    RenderedModel,
    RepositoryError,
    build_version_repository,
    renamed,
)
from recsys_workloads.serving.triton.rollout import (
    PinnedSync,
    served_version_dir,
    switch_version,
    sync_pinned,
)
from tests.conftest import version_stub


def version_folder(root: Path) -> Path:
    return version_stub(root).resolve()


def parsed(repository: Path, model: str) -> dict[str, Any]:
    text = (repository / model / "config.pbtxt").read_text()
    message = text_format.Parse(text, model_config_pb2.ModelConfig())
    config: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return config


def version_dir_of(config: dict[str, Any]) -> str | None:
    value = config.get("parameters", {}).get("version_dir")
    return None if value is None else str(value["string_value"])


def test_names_round_trip_and_current_models_are_not_pinned() -> None:
    assert pinned_ensemble("fused", 3) == "homepage_fused__v3"
    assert pinned_version(pinned_model("faiss_retrieval", 12)) == 12
    for name in ("homepage", "faiss_retrieval", "__v3", "x__v", "x__v0", "x__vfoo"):
        assert pinned_version(name) is None, name
    with pytest.raises(ValueError, match="start at 1"):
        pinned_model("homepage", 0)


@pytest.mark.parametrize("graph", ["ensemble", "fused"])
def test_a_pinned_ensemble_runs_its_versions_steps_and_shares_the_rest(tmp_path: Path, graph: Graph) -> None:
    current = version_folder(tmp_path / "models" / "3")
    two, one = (version_folder(tmp_path / "models" / str(n)) for n in (2, 1))
    repository = build_version_repository(
        current, tmp_path / "repository", "redis://x", (graph,), pinned={2: two, 1: one}
    )
    names = {p.name for p in repository.iterdir()}
    for number, folder in ((1, one), (2, two)):
        ensemble = parsed(repository, pinned_ensemble(graph, number))
        assert ensemble["name"] == pinned_ensemble(graph, number)
        steps = [s["model_name"] for s in ensemble["ensemble_scheduling"]["step"]]
        current_steps = [
            s["model_name"] for s in parsed(repository, ENSEMBLE_OF[graph])["ensemble_scheduling"]["step"]
        ]
        assert len(steps) == len(current_steps)
        for step, shared in zip(steps, current_steps, strict=True):
            assert step in names
            config = parsed(repository, step)
            assert config["name"] == step
            if pinned_version(step) is None:  # shared: it reads no version folder
                assert step == shared and version_dir_of(config) is None
            else:
                assert step == pinned_model(shared, number)
                assert version_dir_of(config) == str(folder)
                assert version_dir_of(parsed(repository, shared)) == str(current)
        assert sum(pinned_version(s) == number for s in steps) >= 3
    if graph == "ensemble":
        assert "context_preprocessor__v2" not in names  # shared: no version folder


def test_a_pinned_version_without_its_artifacts_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    current = version_folder(tmp_path / "models" / "3")
    (tmp_path / "models" / "2").mkdir()
    with pytest.raises(RepositoryError, match=r"models/2 lacks"):
        build_version_repository(current, tmp_path / "repository", "", pinned={2: tmp_path / "models" / "2"})
    assert not (tmp_path / "repository").exists()


def test_the_pods_pinned_versions_are_a_json_list_of_version_numbers() -> None:
    assert pinned_versions("") == [] and pinned_versions("[3, 1]") == [3, 1]
    for bad in ("[0]", '["2"]', "2", "[true]", "[1,"):
        with pytest.raises(RepositoryError, match="RECSYS_PINNED_VERSIONS must be"):
            pinned_versions(bad)


def test_a_rename_that_misses_its_target_is_an_error() -> None:
    text = 'name: "homepage"\nensemble_scheduling { step [ { model_name: "a" } ] }\n'
    model = RenderedModel("homepage__v2", "homepage", {}, {"a": "a__v2"})
    assert 'model_name: "a__v2"' in renamed(text, model, "here")
    assert 'name: "homepage__v2"' in renamed(text, model, "here")
    with pytest.raises(RepositoryError, match="no step references b"):
        renamed(text, RenderedModel("homepage__v2", "homepage", {}, {"b": "b__v2"}), "here")
    with pytest.raises(RepositoryError, match='one line name: "other"'):
        renamed(text, RenderedModel("other__v2", "other", {}), "here")


class FakeTriton:
    """Triton's repository API over configs in memory; loading an ensemble loads its steps."""

    def __init__(self, repository: dict[str, dict[str, Any]], loaded: set[str]) -> None:
        self.repository = repository
        self.configs = {name: dict(repository[name]) for name in loaded}
        self.calls: list[tuple[str, str]] = []
        self.broken: set[str] = set()

    def get_model_repository_index(self) -> list[dict[str, object]]:
        return [{"name": name, "state": "READY"} for name in sorted(self.configs)]

    def get_model_config(self, model_name: str) -> dict[str, object]:
        return dict(self.configs[model_name])

    def is_model_ready(self, model_name: str, model_version: str = "") -> bool:
        return model_name in self.configs

    def load_model(self, model_name: str, config: str | None = None) -> None:
        self.calls.append(("load", model_name))
        found = json.loads(config) if config else self.repository[model_name]
        for step in found.get("ensemble_scheduling", {}).get("step", []):
            if step["model_name"] not in self.configs:
                self.load_model(step["model_name"])
        if model_name in self.broken:
            raise RuntimeError(f"{model_name} failed to load")
        self.configs[model_name] = found

    def unload_model(self, model_name: str) -> None:
        self.calls.append(("unload", model_name))
        del self.configs[model_name]


def step(version_dir: str) -> dict[str, Any]:
    return {"backend": "python", "parameters": {"version_dir": {"string_value": version_dir}}}


def ensemble(*steps: str) -> dict[str, Any]:
    return {"platform": "ensemble", "ensemble_scheduling": {"step": [{"model_name": s} for s in steps]}}


def repository() -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {"shared": {"backend": "python"}}
    models["homepage"] = ensemble("shared", "rank")
    models["rank"] = step("/models/1")
    for number in (1, 2):
        models[f"rank__v{number}"] = step(f"/models/{number}")
        models[f"homepage__v{number}"] = ensemble("shared", f"rank__v{number}")
    return models


def test_a_live_switch_leaves_pinned_models_on_their_version() -> None:
    triton = FakeTriton(repository(), {"shared", "rank", "homepage", "rank__v1", "homepage__v1"})
    assert served_version_dir(triton) == "/models/1"
    result = switch_version(triton, "/models/3", canary=lambda: None)
    assert (result.transition, result.current_version, result.previous_version) == ("UpToDate", 3, 1)
    assert triton.calls == [("load", "rank")]
    assert triton.configs["rank__v1"]["parameters"]["version_dir"]["string_value"] == "/models/1"
    assert served_version_dir(triton) == "/models/3"  # the pinned model does not make them disagree


def test_sync_loads_wanted_pinned_ensembles_and_unloads_the_rest_but_shared_steps() -> None:
    triton = FakeTriton(repository(), {"shared", "rank", "homepage", "rank__v1", "homepage__v1"})
    canaried: list[str] = []
    synced = sync_pinned(triton, ["homepage__v2"], lambda name: lambda: canaried.append(name))
    assert synced == PinnedSync(["homepage__v2"], []) and canaried == ["homepage__v2"]
    assert set(triton.configs) == {"shared", "rank", "homepage", "rank__v2", "homepage__v2"}
    assert triton.calls[-2:] == [("unload", "homepage__v1"), ("unload", "rank__v1")]  # ensemble first
    triton.calls.clear()
    assert sync_pinned(triton, ["homepage__v2"], lambda name: lambda: None).served == ["homepage__v2"]
    assert triton.calls == []  # already loaded: nothing reloaded
    assert sync_pinned(triton, [], lambda name: lambda: None) == PinnedSync([], [])
    assert set(triton.configs) == {"shared", "rank", "homepage"}


def test_a_pinned_ensemble_that_fails_is_unloaded_and_named() -> None:
    triton = FakeTriton(repository(), {"shared", "rank", "homepage", "rank__v1", "homepage__v1"})

    def failing(name: str) -> Any:
        def canary() -> None:
            raise RolloutError("canary: no items")

        return canary if name == "homepage__v2" else lambda: None

    synced = sync_pinned(triton, ["homepage__v1", "homepage__v2"], failing)
    assert synced == PinnedSync(["homepage__v1"], ["homepage__v2: canary: no items"])
    assert set(triton.configs) == {"shared", "rank", "homepage", "rank__v1", "homepage__v1"}
    with pytest.raises(ValueError, match="not pinned"):
        sync_pinned(triton, ["homepage"], failing)
