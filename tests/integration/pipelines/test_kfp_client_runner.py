"""The KFP server runner: submit the compiled pipeline, poll its states, cancel it."""

from __future__ import annotations

from typing import Any

import pytest

from recsys_workloads.pipelines.config import PipelineConfig
from recsys_workloads.pipelines.runner import KfpClientRunner


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
