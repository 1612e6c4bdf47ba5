"""The compiled training pipelines: GPUs and placement on training steps, the model volume, the gate."""

from __future__ import annotations

from typing import Any

import yaml

from recsys_workloads.contracts.pipelines import MODEL_MOUNT
from recsys_workloads.pipelines.compile import compiled


def _doc(name: str) -> dict[str, Any]:
    return dict(next(yaml.safe_load_all(compiled()[name])))


def _kubernetes(name: str) -> dict[str, dict[str, Any]]:
    """kfp-kubernetes' per-executor settings (the YAML's second document)."""
    _, platform = yaml.safe_load_all(compiled()[name])
    return dict(platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"])


def _from_placement(value: dict[str, Any], key: str) -> bool:
    """A runtime value read from `training_resources` (directly or through a condition's input)."""
    produced = value.get("taskOutputParameter", {})
    forwarded = value.get("componentInputParameter", "")
    return (produced.get("producerTask"), produced.get("outputParameterKey")) == (
        "training-resources",
        key,
    ) or forwarded == f"pipelinechannel--training-resources-{key}"


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
        assert "training-resources-gpus" in accelerator["resourceCount"]  # a runtime value, not a constant
    assert set(_accelerators(_doc("incremental.yaml"))) == {"exec-fine-tune"}


def test_initial_runs_every_step_in_order_ending_with_the_export() -> None:
    tasks = _doc("initial.yaml")["root"]["dag"]["tasks"]
    after = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert after["train-two-tower"] >= {"content-embeddings", "training-resources"}
    assert after["build-index"] == {"train-two-tower"}
    assert after["materialize-features"] == {"evaluate", "prepare-data"}
    assert after["export-model"] == {"evaluate", "materialize-features", "training-resources"}
    assert after["record-outputs"] == {"evaluate", "export-model", "prepare-data"}
    outputs = _doc("initial.yaml")["root"]["outputDefinitions"]
    assert set(outputs["artifacts"]) == {"metrics", "report", "data"}
    assert set(outputs["parameters"]) == {"version"}


def test_incremental_exports_only_inside_the_gate_condition() -> None:
    doc = _doc("incremental.yaml")
    assert "export-model" not in doc["root"]["dag"]["tasks"]
    branches = doc["components"]["comp-condition-branches-1"]["dag"]["tasks"]
    passed = "inputs.parameter_values['pipelinechannel--fine-tune-Output'] == true"
    assert branches["condition-2"]["triggerPolicy"]["condition"] == passed
    assert branches["condition-3"]["triggerPolicy"]["condition"] == f"!({passed})"
    assert set(doc["components"]["comp-condition-2"]["dag"]["tasks"]) == {"export-model"}
    assert set(doc["components"]["comp-condition-3"]["dag"]["tasks"]) == {"no-version"}


TRAINING_EXECUTORS = {
    "initial.yaml": {"exec-train-two-tower", "exec-train-dlrm"},
    "incremental.yaml": {"exec-fine-tune"},
}
VOLUME_EXECUTORS = {
    "initial.yaml": {"exec-publish-catalog", "exec-export-model"},
    "incremental.yaml": {"exec-publish-catalog", "exec-fine-tune", "exec-export-model"},
}


def test_training_steps_take_node_selector_and_tolerations_from_the_config_at_run_time() -> None:
    for name, training in TRAINING_EXECUTORS.items():
        executors = _kubernetes(name)
        placed = {e for e, c in executors.items() if "nodeSelector" in c or "tolerations" in c}
        assert placed == training, name
        for executor in training:
            config = executors[executor]
            assert _from_placement(config["nodeSelector"]["nodeSelectorJson"], "node_selector")
            [toleration] = config["tolerations"]
            assert _from_placement(toleration["tolerationJson"], "tolerations")


def test_the_steps_that_read_or_publish_versions_mount_the_configs_model_claim_at_models() -> None:
    for name, mounted in VOLUME_EXECUTORS.items():
        executors = _kubernetes(name)
        assert {e for e, c in executors.items() if "pvcMount" in c} == mounted, name
        for executor in mounted:
            [mount] = executors[executor]["pvcMount"]
            assert mount["mountPath"] == MODEL_MOUNT
            assert _from_placement(mount["pvcNameParameter"], "model_claim")


def test_no_step_reuses_a_cached_result() -> None:
    """The steps read outside state (event log, model volume): KFP's cache would skip new data."""
    for name in ("data.yaml", "initial.yaml", "incremental.yaml"):
        doc = _doc(name)
        dags = [doc["root"]["dag"], *(c["dag"] for c in doc["components"].values() if "dag" in c)]
        tasks = [task for dag in dags for task in dag["tasks"].values()]
        assert tasks and all(not t.get("cachingOptions", {}).get("enableCache") for t in tasks), name


def test_every_training_pipeline_records_its_outputs_under_the_kfp_run_id() -> None:
    for name in ("initial.yaml", "incremental.yaml"):
        task = _doc(name)["root"]["dag"]["tasks"]["record-outputs"]
        assert task["inputs"]["parameters"]["run_id"]["runtimeValue"]["constant"] == "{{$.pipeline_job_uuid}}"
        assert set(task["inputs"]["artifacts"]) == {"metrics", "report", "data"}
