"""The KFP server runner: submit the compiled pipeline, poll its states and outputs, cancel it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.pipelines.runner import KfpClientRunner
from recsys_workloads.pipelines.training import record_outputs


def test_submit_sends_the_compiled_pipeline_with_its_arguments(fake_kfp: Any) -> None:
    runner = KfpClientRunner(host=fake_kfp.url, experiment="homepage")
    config = PipelineConfig().to_argument()
    run_id = runner.submit("data", {"config": config}, run_name="homepage-initial")
    run = fake_kfp.runs[run_id]
    assert run["display_name"] == "homepage-initial"
    assert run["pipeline_spec"]["pipelineInfo"]["name"] == "recsys-data"
    assert run["runtime_config"]["parameters"] == {"config": config}
    assert [e["display_name"] for e in fake_kfp.experiments.values()] == ["homepage"]


def test_states_and_history_are_read_back_from_the_server(fake_kfp: Any) -> None:
    runner = KfpClientRunner(host=fake_kfp.url)
    run_id = runner.submit("data", {"config": PipelineConfig().to_argument()}, run_name="r")
    assert runner.status(run_id).state == "PENDING"
    fake_kfp.set_state(run_id, "RUNNING")
    fake_kfp.set_state(run_id, "FAILED", error="prepare-data: exit code 1")
    status = runner.status(run_id)
    assert status.state == "FAILED"
    assert [c.state for c in status.history] == ["PENDING", "RUNNING", "FAILED"]
    assert status.error == "prepare-data: exit code 1"


def test_cancel_terminates_the_run_on_the_server(fake_kfp: Any) -> None:
    runner = KfpClientRunner(host=fake_kfp.url)
    run_id = runner.submit("data", {"config": PipelineConfig().to_argument()}, run_name="r")
    runner.cancel(run_id)
    assert ("POST", f"/apis/v2beta1/runs/{run_id}:terminate") in fake_kfp.requests
    assert runner.status(run_id).state == "CANCELING"


def test_an_unknown_pipeline_is_refused_before_anything_is_sent(fake_kfp: Any) -> None:
    runner = KfpClientRunner(host=fake_kfp.url)
    with pytest.raises(KeyError, match="no compiled pipeline 'nope'"):
        runner.submit("nope", {}, run_name="r")
    assert not [r for r in fake_kfp.requests if r[0] == "POST"]


def test_submitting_the_same_run_name_twice_creates_one_run(fake_kfp: Any) -> None:
    runner = KfpClientRunner(host=fake_kfp.url)
    first = runner.submit("data", {"config": PipelineConfig().to_argument()}, run_name="shop-homepage-1234")
    second = runner.submit("data", {"config": PipelineConfig().to_argument()}, run_name="shop-homepage-1234")
    assert first == second
    assert len(fake_kfp.runs) == 1


def _recorded(run_id: str, config: PipelineConfig, version: int, accepted: bool) -> None:
    """What the run's last step does on the cluster: the component's own body, with KFP's artifacts."""
    from kfp import dsl

    def logged(name: str, step: str, values: dict[str, float]) -> dsl.Metrics:
        artifact = dsl.Metrics(name=name, uri=f"s3://recsys/kfp/{run_id}/{step}/{name}")
        for key, value in values.items():
            artifact.log_metric(key, value)
        return artifact

    metrics = logged(
        "metrics",
        "fine-tune",
        {"k": 100.0, "recall_at_k": 0.31, "auc": 0.74, "logloss": 0.52, "accepted": 1.0},
    )
    report = dsl.Markdown(name="report", uri=f"s3://recsys/kfp/{run_id}/fine-tune/report")
    counts = {"users": 80.0, "items": 60.0, "profile_less_users": 4.0, "dropped_interactions": 9.0}
    data = logged("summary", "prepare-data", counts)
    record_outputs.python_func(
        config=config.to_argument(),
        run_id=run_id,
        metrics=metrics,
        report=report,
        data=data,
        version=version,
        accepted=accepted,
    )


def test_a_succeeded_run_reports_the_outputs_its_last_step_recorded(fake_kfp: Any, tmp_path: Path) -> None:
    from recsys_operator.reconcilers.training_run import run_outputs

    runner = KfpClientRunner(host=fake_kfp.url)
    config = PipelineConfig(artifact_root=str(tmp_path / "artifacts"), run_type="Incremental")
    run_id = runner.submit("incremental", {"config": config.to_argument()}, run_name="shop-homepage-5678")
    _recorded(run_id, config, version=3, accepted=True)
    assert runner.status(run_id).outputs == {}  # still pending: outputs are read once it succeeded
    fake_kfp.succeed(run_id)
    status = runner.status(run_id)
    assert status.state == "SUCCEEDED"
    assert status.outputs["version"] == 3 and status.outputs["accepted"] is True
    metrics = status.outputs["metrics"]
    assert isinstance(metrics, dict) and metrics["metadata"]["recall_at_k"] == 0.31
    assert metrics["uri"] == f"s3://recsys/kfp/{run_id}/fine-tune/metrics"
    # the operator reads them exactly as it reads the local runner's
    mirrored = run_outputs(status)
    assert list(mirrored["modelVersions"].values()) == [3]
    assert mirrored["metrics"]["recallAtK"] == 0.31 and mirrored["metrics"]["auc"] == 0.74
    assert mirrored["data"] == {"users": 80, "items": 60, "profileLessUsers": 4, "droppedInteractions": 9}


def test_a_succeeded_run_without_recorded_outputs_reports_none(fake_kfp: Any, tmp_path: Path) -> None:
    runner = KfpClientRunner(host=fake_kfp.url)
    config = PipelineConfig(artifact_root=str(tmp_path / "artifacts"))
    run_id = runner.submit("initial", {"config": config.to_argument()}, run_name="r")
    fake_kfp.succeed(run_id)
    status = runner.status(run_id)
    assert status.state == "SUCCEEDED" and status.outputs == {}


def test_the_submitted_pipeline_carries_the_kubernetes_platform_spec(fake_kfp: Any) -> None:
    runner = KfpClientRunner(host=fake_kfp.url)
    run_id = runner.submit("initial", {"config": PipelineConfig().to_argument()}, run_name="r")
    submitted = fake_kfp.runs[run_id]["pipeline_spec"]
    executors = submitted["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert {"exec-publish-catalog", "exec-train-two-tower", "exec-train-dlrm", "exec-export-model"} == set(
        executors
    )
    assert submitted["pipeline_spec"]["pipelineInfo"]["name"] == "recsys-initial"


def test_an_unreachable_server_is_reported_at_once_not_after_kfps_own_retries() -> None:
    import socket
    import time

    from recsys_workloads.contracts.runs import RunnerUnavailableError

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner = KfpClientRunner(host=f"http://127.0.0.1:{port}")
    began = time.monotonic()
    with pytest.raises(RunnerUnavailableError) as raised:
        runner.submit("data", {"config": PipelineConfig().to_argument()}, run_name="r")
    assert time.monotonic() - began < 5  # kfp.Client alone retries healthz for 25 s
    assert raised.value.reason == "PipelinesUnreachable"
    assert f"http://127.0.0.1:{port}" in str(raised.value)


def test_the_default_endpoint_is_kubeflows_in_cluster_service() -> None:
    assert KfpClientRunner().host == "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
