"""A training Job's process (orchestrator job) run here: the pipeline, its log on stdout, its outcome.

The same `python -m recsys_workloads.pipelines.job_run` the Job's pod runs, with the
termination message redirected to a file (no kubelet here); tests/cluster runs it in a pod.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_workloads.contracts.job import ARGUMENTS_ENV, RUN_ID_ENV, JobOutcome
from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.pipelines import job_run
from tests.conftest import S3Bucket

TINY = {"dataSources": {"generator": {"users": 150, "interactions": 1_500, "days": 2, "images": False}}}


def _run(
    tmp_path: Path, pipeline: str, arguments: str
) -> tuple[subprocess.CompletedProcess[str], JobOutcome | None]:
    termination = tmp_path / "termination-log"
    code = (
        "import sys; from pathlib import Path; from recsys_workloads.pipelines import job_run; "
        f"job_run.TERMINATION_LOG = Path({str(termination)!r}); sys.exit(job_run.main([{pipeline!r}]))"
    )
    env = {**os.environ, ARGUMENTS_ENV: arguments, RUN_ID_ENV: "run-1", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    outcome = JobOutcome.from_message(termination.read_text()) if termination.exists() else None
    return done, outcome


def test_a_run_streams_every_step_to_stdout_and_leaves_its_outcome(tmp_path: Path) -> None:
    done, outcome = _run(
        tmp_path, "data", json.dumps({"config": PipelineConfig.model_validate(TINY).to_argument()})
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "[prepare_data] finished" in done.stdout  # the step's own lines reach `kubectl logs`
    assert outcome is not None and outcome.state == "SUCCEEDED"
    assert (tmp_path / "recsys-runs" / "run-1" / "state.json").is_file()


def test_a_failing_step_is_named_in_the_outcome_and_the_exit_code(tmp_path: Path) -> None:
    bad = PipelineConfig.model_validate({"dataSources": {"layout": "seed", "uri": str(tmp_path / "nothing")}})
    done, outcome = _run(tmp_path, "data", json.dumps({"config": bad.to_argument()}))
    assert done.returncode == 1
    assert outcome is not None and outcome.state == "FAILED"
    assert outcome.failed_step == "prepare-data"
    assert outcome.error is not None and str(tmp_path / "nothing") in outcome.error


def test_the_data_step_ingests_an_s3_prefix_and_names_a_missing_one(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """The pipeline's own subprocesses find the S3 endpoint and credentials as a pod does (env)."""
    from recsys_workloads.data.generator import GeneratorConfig, generate

    shop = tmp_path / "shop"
    generate(GeneratorConfig(users=80, items=40, days=2, interactions=1_000, images=False, seed=2), shop)
    uri = s3_bucket.put_dir(shop, "exports/shop")
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = PipelineConfig.model_validate({"dataSources": {"layout": "seed", "uri": uri}})
    done, outcome = _run(tmp_path / "good", "data", json.dumps({"config": good.to_argument()}))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert outcome is not None and outcome.state == "SUCCEEDED"
    missing = f"{uri}-not-yet"
    bad = PipelineConfig.model_validate({"dataSources": {"layout": "seed", "uri": missing}})
    done, outcome = _run(tmp_path / "bad", "data", json.dumps({"config": bad.to_argument()}))
    assert outcome is not None and outcome.state == "FAILED" and outcome.failed_step == "prepare-data"
    assert outcome.error is not None and f"{missing}: nothing under this prefix" in outcome.error


def test_arguments_that_are_not_json_fail_without_running_anything(tmp_path: Path) -> None:
    done, outcome = _run(tmp_path, "data", "{not json")
    assert done.returncode == 1
    assert outcome is not None and outcome.state == "FAILED" and ARGUMENTS_ENV in (outcome.error or "")
    assert not (tmp_path / "recsys-runs").exists()


def test_usage_without_a_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert job_run.main([]) == 2
    assert "usage" in capsys.readouterr().err
