"""Compiled pipeline YAML: valid KFP IR, and in sync with the code."""

from __future__ import annotations

import pytest
import yaml
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2
from kfp.pipeline_spec import pipeline_spec_pb2

from recsys_workloads.contracts.images import WORKLOADS_IMAGE
from recsys_workloads.contracts.pipelines import COMPILED_DIR, PipelineConfig
from recsys_workloads.pipelines.compile import compiled
from recsys_workloads.pipelines.registry import pipeline_by_name


def test_checked_in_pipeline_yaml_matches_the_code() -> None:
    on_disk = {p.name: p.read_text() for p in COMPILED_DIR.glob("*.yaml")}
    assert on_disk == compiled(), "compiled pipelines drifted: run `make pipelines`"


@pytest.mark.parametrize("name", sorted(compiled()))
def test_compiled_yaml_is_valid_kfp_ir_running_the_workloads_image(name: str) -> None:
    doc, *platform = yaml.safe_load_all((COMPILED_DIR / name).read_text())
    spec = json_format.ParseDict(doc, pipeline_spec_pb2.PipelineSpec())
    assert spec.root.dag.tasks
    executors = doc["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {WORKLOADS_IMAGE}
    for extra in platform:  # kfp-kubernetes' settings: a second document, also valid IR
        parsed = json_format.ParseDict(extra, pipeline_spec_pb2.PlatformSpec())
        for config in parsed.platforms["kubernetes"].deployment_spec.executors.values():
            json_format.ParseDict(
                json_format.MessageToDict(config), kubernetes_executor_config_pb2.KubernetesExecutorConfig()
            )


def test_unknown_pipelines_are_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="unknown pipeline 'nope'; known: \\['data'"):
        pipeline_by_name("nope")


def test_config_travels_as_camel_case_json_and_comes_back_equal() -> None:
    config = PipelineConfig.model_validate(
        {"dataSources": {"layout": "generated", "generator": {"users": 50}}}
    )
    text = config.to_argument()
    assert '"dataSources"' in text
    assert PipelineConfig.from_argument(text) == config
