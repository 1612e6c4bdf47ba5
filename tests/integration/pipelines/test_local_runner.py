"""The local pipeline runner: kfp.local in a child process, tracked by run id like a KFP server."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq

from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.pipelines.runner import LocalRunner

TINY = {
    "dataSources": {
        "layout": "generated",
        "generator": {"users": 150, "interactions": 1_500, "days": 2, "images": False},
    }
}


def test_data_pipeline_runs_to_success_with_its_state_history_and_outputs(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path / "runs")
    config = PipelineConfig.model_validate(TINY).to_argument()
    run_id = runner.submit("data", {"config": config}, run_name="tiny")
    status = runner.wait(run_id, timeout_s=180)
    assert status.state == "SUCCEEDED", (tmp_path / "runs" / run_id / "run.log").read_text()[-3000:]
    assert [change.state for change in status.history] == ["PENDING", "RUNNING", "SUCCEEDED"]
    dataset = Path(str(status.outputs["Output"]["path"]))  # type: ignore[index]
    assert pq.read_metadata(dataset / "items.parquet").num_rows > 0
    # Each step's scratch folder (KFP's `mktemp -d` with the component's code) is in the run's folder.
    assert len(list((tmp_path / "runs" / run_id / "tmp").glob("*/ephemeral_component.py"))) >= 1
    # A restarted operator (a new runner over the same root) finds the run by id, and
    # resubmitting the same run name starts nothing new.
    restarted = LocalRunner(tmp_path / "runs")
    assert restarted.status(run_id) == status
    assert restarted.submit("data", {"config": config}, run_name="tiny") == run_id
    assert restarted.status(run_id) == status


def test_a_bad_config_fails_the_run_with_the_field_named(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path / "runs")
    bad = PipelineConfig.model_validate({"dataSources": {"layout": "seed"}}).to_argument()
    status = runner.wait(runner.submit("data", {"config": bad}, run_name="bad"), timeout_s=180)
    assert status.state == "FAILED"
    assert "spec.dataSources.uri is required" in (status.error or "")


def test_an_unknown_pipeline_fails_instead_of_hanging(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path / "runs")
    status = runner.wait(runner.submit("no-such-pipeline", {}, run_name="x"), timeout_s=60)
    assert status.state == "FAILED"
    assert "unknown pipeline" in (status.error or "")


def test_cancel_stops_a_running_run_and_records_it(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path / "runs")
    big = PipelineConfig.model_validate(
        {"dataSources": {"generator": {"users": 50_000, "interactions": 3_000_000, "images": False}}}
    ).to_argument()
    run_id = runner.submit("data", {"config": big}, run_name="big")
    deadline = time.monotonic() + 60
    while runner.status(run_id).state != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    runner.cancel(run_id)
    status = runner.status(run_id)
    assert status.state == "CANCELED"
    assert [c.state for c in status.history][-2:] == ["CANCELING", "CANCELED"]
    time.sleep(0.5)
    assert runner.status(run_id).state == "CANCELED"  # the dead child is not re-labelled FAILED
