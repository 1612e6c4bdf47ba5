"""The compiled training pipelines: GPU requests on training steps, export behind the gate."""

from __future__ import annotations

from typing import Any

import yaml

from recsys_workloads.pipelines.compile import compiled


def _doc(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load(compiled()[name]))


def _accelerators(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    executors = doc["deploymentSpec"]["executors"]
    return {
        name: e["container"]["resources"]["accelerator"]
        for name, e in executors.items()
        if "accelerator" in e["container"].get("resources", {})
    }


def test_only_training_steps_ask_for_gpus_and_the_count_comes_from_the_config() -> None:
    accelerators = _accelerators(_doc("initial.yaml"))
    assert set(accelerators) == {"exec-train-two-tower", "exec-train-dlrm"}
    for accelerator in accelerators.values():
        assert accelerator["resourceType"] == "nvidia.com/gpu"
        assert "training-resources" in accelerator["resourceCount"]  # a runtime value, not a constant
    assert set(_accelerators(_doc("incremental.yaml"))) == {"exec-fine-tune"}


def test_initial_runs_every_step_in_order_ending_with_the_export() -> None:
    tasks = _doc("initial.yaml")["root"]["dag"]["tasks"]
    after = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert after["train-two-tower"] >= {"content-embeddings", "training-resources"}
    assert after["build-index"] == {"train-two-tower"}
    assert after["materialize-features"] == {"evaluate", "prepare-data"}
    assert after["export-model"] == {"evaluate", "materialize-features"}
    outputs = _doc("initial.yaml")["root"]["outputDefinitions"]
    assert set(outputs["artifacts"]) == {"metrics", "report"} and set(outputs["parameters"]) == {"version"}


def test_incremental_exports_only_inside_the_gate_condition() -> None:
    tasks = _doc("incremental.yaml")["root"]["dag"]["tasks"]
    assert "export-model" not in tasks
    gate = tasks["condition-1"]
    assert (
        gate["triggerPolicy"]["condition"]
        == "inputs.parameter_values['pipelinechannel--fine-tune-Output'] == true"
    )
