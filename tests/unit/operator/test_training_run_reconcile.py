"""TrainingRun reconciliation: submit once, mirror states into Job-like conditions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from recsys_operator.reconcilers.training_run import reconcile, run_name
from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.contracts.runs import RunnerUnavailableError, RunState, RunStatus, StateChange

T0 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)


class ScriptedRunner:
    """Records submissions; the test sets the state each run reports."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, dict[str, object], str]] = []
        self.states: dict[str, list[RunState]] = {}
        self.errors: dict[str, str] = {}
        self.outputs: dict[str, dict[str, object]] = {}
        self.failed_steps: dict[str, str] = {}

    def submit(self, pipeline: str, arguments: dict[str, object], run_name: str) -> str:
        self.submitted.append((pipeline, arguments, run_name))
        self.states.setdefault(run_name, ["PENDING"])
        return run_name

    def status(self, run_id: str) -> RunStatus:
        states = self.states[run_id]
        history = [StateChange(state=s, time=T0 + dt.timedelta(minutes=i)) for i, s in enumerate(states)]
        return RunStatus(
            run_id=run_id,
            pipeline="p",
            state=states[-1],
            history=history,
            error=self.errors.get(run_id),
            failed_step=self.failed_steps.get(run_id),
            outputs=self.outputs.get(run_id, {}),
        )

    def cancel(self, run_id: str) -> None:
        self.states[run_id].append("CANCELED")


PARENT = {
    "spec": {
        "dataSources": {"layout": "generated", "generator": {"users": 500}},
        "training": {"historyReplayRatio": 0.3, "gpu": True},
    }
}


@pytest.fixture(autouse=True)
def artifact_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_PIPELINE_RUNNER", "kfp")
    monkeypatch.setenv("RECSYS_ARTIFACT_ROOT", "s3://bucket/recsys/")


RUN_SPEC = {"recommenderRef": {"name": "homepage"}, "type": "Incremental"}


def _body(status: dict[str, Any] | None = None, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "homepage-initial",
            "namespace": "shop",
            "uid": "abcdef12-3456",
            "generation": 1,
        },
        "spec": spec if spec is not None else {"recommenderRef": {"name": "homepage"}, "type": "Initial"},
        "status": status or {},
    }


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_first_pass_submits_the_mapped_pipeline_with_the_recommenders_config() -> None:
    runner = ScriptedRunner()
    status = reconcile(_body(), PARENT, runner)
    ((pipeline, arguments, name),) = runner.submitted
    assert (pipeline, name) == ("initial", "shop-homepage-initial-abcdef12")
    config = PipelineConfig.from_argument(str(arguments["config"]))
    assert config.data_sources.generator is not None and config.data_sources.generator.users == 500
    assert config.run_type == "Initial"
    assert config.artifact_root == "s3://bucket/recsys/shop/homepage"
    assert config.model_repository == "/models"
    assert config.models.fine_tune.replay_ratio == 0.3
    assert config.gpu is True
    assert config.tolerations[0].key == "nvidia.com/gpu"
    assert status["kfpRunId"] == name
    assert status["builtWith"]["models"] and status["builtWith"]["filtering.windowDays"] == "7"
    assert _condition(status, "Created")["status"] == "True"
    # Queued, not running yet (Running turns True with the RUNNING state).
    assert (_condition(status, "Running")["status"], _condition(status, "Running")["reason"]) == (
        "False",
        "RunPending",
    )


def test_a_recorded_run_id_is_polled_never_resubmitted() -> None:
    runner = ScriptedRunner()
    first = reconcile(_body(), PARENT, runner)
    runner.states[first["kfpRunId"]] += ["RUNNING", "SUCCEEDED"]
    second = reconcile(_body(status=first), PARENT, runner)
    assert len(runner.submitted) == 1
    assert second["state"] == "SUCCEEDED"
    assert _condition(second, "Succeeded")["status"] == "True"
    assert _condition(second, "Running")["status"] == "False"
    assert [h["state"] for h in second["stateHistory"]] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert (second["startTime"], second["completionTime"]) == ("2026-11-22T10:00:00Z", "2026-11-22T10:02:00Z")


def test_a_failed_run_reports_the_pipelines_error() -> None:
    runner = ScriptedRunner()
    first = reconcile(_body(), PARENT, runner)
    runner.states[first["kfpRunId"]].append("FAILED")
    runner.errors[first["kfpRunId"]] = "train-two-tower: ValueError: empty training set"
    failed = _condition(reconcile(_body(status=first), PARENT, runner), "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "RunFailed")
    assert "empty training set" in failed["message"]


def test_a_missing_recommender_waits_without_submitting() -> None:
    runner = ScriptedRunner()
    status = reconcile(_body(), None, runner)
    assert runner.submitted == []
    created = _condition(status, "Created")
    assert (created["status"], created["reason"]) == ("False", "RecommenderNotFound")


def test_an_invalid_spec_fails_without_submitting() -> None:
    runner = ScriptedRunner()
    status = reconcile(_body(spec={"type": "Initial"}), PARENT, runner)
    assert runner.submitted == []
    assert _condition(status, "Failed")["reason"] == "InvalidSpec"


def test_run_names_are_deterministic_per_object() -> None:
    meta = {"namespace": "shop", "name": "r", "uid": "0123456789"}
    assert run_name(meta) == run_name(dict(meta)) == "shop-r-01234567"


def test_local_mode_keeps_artifacts_and_versions_in_absolute_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("RECSYS_PIPELINE_RUNNER", "local")
    monkeypatch.setenv("RECSYS_LOCAL_RUNS", str(tmp_path))
    runner = ScriptedRunner()
    reconcile(_body(), PARENT, runner)
    config = PipelineConfig.from_argument(str(runner.submitted[0][1]["config"]))
    assert config.artifact_root == str(tmp_path / "shop-homepage" / "artifacts")
    assert config.model_repository == str(tmp_path / "shop-homepage" / "models")


def test_local_mode_sends_artifacts_to_an_s3_artifact_root_and_keeps_versions_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("RECSYS_PIPELINE_RUNNER", "local")
    monkeypatch.setenv("RECSYS_LOCAL_RUNS", str(tmp_path))
    runner = ScriptedRunner()
    parent = {"spec": {**PARENT["spec"], "training": {"artifactRoot": "s3://shop-models/recsys/"}}}
    reconcile(_body(), parent, runner)
    config = PipelineConfig.from_argument(str(runner.submitted[0][1]["config"]))
    assert config.artifact_root == "s3://shop-models/recsys/shop/homepage"
    assert config.model_repository == str(tmp_path / "shop-homepage" / "models")
    folder = {"spec": {**PARENT["spec"], "training": {"artifactRoot": "/srv/artifacts"}}}
    runner = ScriptedRunner()
    reconcile(_body(), folder, runner)  # a folder stays a cluster's: local artifacts stay beside the runs
    config = PipelineConfig.from_argument(str(runner.submitted[0][1]["config"]))
    assert config.artifact_root == str(tmp_path / "shop-homepage" / "artifacts")


def test_a_cluster_without_an_artifact_store_waits_and_says_why_in_the_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECSYS_ARTIFACT_ROOT")
    runner = ScriptedRunner()
    status = reconcile(_body(), PARENT, runner)
    assert runner.submitted == []
    created = _condition(status, "Created")
    assert (created["status"], created["reason"]) == ("False", "ArtifactStoreNotConfigured")
    assert "RECSYS_ARTIFACT_ROOT" in created["message"] and "orchestrator" in created["message"]
    assert status["state"] == "PENDING"  # not terminal: the poll timer retries


def test_the_job_orchestrator_keeps_artifacts_on_the_model_volume_and_reads_the_event_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECSYS_ARTIFACT_ROOT")
    parent = {"spec": {**PARENT["spec"], "training": {"orchestrator": "job"}}}
    runner = ScriptedRunner()
    reconcile(_body(), parent, runner)
    ((_, arguments, _),) = runner.submitted
    config = PipelineConfig.from_argument(str(arguments["config"]))
    assert config.artifact_root == "/models/.artifacts"
    assert (config.model_repository, config.model_volume_claim) == ("/models", "homepage-models")
    assert config.data_sources.events_uri == "/var/lib/recsys/event-log"


class UnreachableRunner(ScriptedRunner):
    def __init__(self, down: bool = True) -> None:
        super().__init__()
        self.down = down

    def _check(self) -> None:
        if self.down:
            raise RunnerUnavailableError(
                "PipelinesUnreachable", "Kubeflow Pipelines at http://kfp:8888: refused"
            )

    def submit(self, pipeline: str, arguments: dict[str, object], run_name: str) -> str:
        self._check()
        return super().submit(pipeline, arguments, run_name)

    def status(self, run_id: str) -> RunStatus:
        self._check()
        return super().status(run_id)


def test_an_unreachable_pipelines_server_is_in_the_status_and_retried_until_it_answers() -> None:
    runner = UnreachableRunner()
    first = reconcile(_body(), PARENT, runner)
    created = _condition(first, "Created")
    assert (created["status"], created["reason"]) == ("False", "PipelinesUnreachable")
    assert "http://kfp:8888" in created["message"]
    assert first["state"] == "PENDING" and "kfpRunId" not in first
    runner.down = False
    second = reconcile(_body(status=first), PARENT, runner)
    assert _condition(second, "Created")["status"] == "True"
    assert second["kfpRunId"] == "shop-homepage-initial-abcdef12"


def test_a_server_lost_after_submission_keeps_the_run_and_marks_running_unknown() -> None:
    runner = UnreachableRunner(down=False)
    first = reconcile(_body(), PARENT, runner)
    runner.states[first["kfpRunId"]].append("RUNNING")
    running = reconcile(_body(status=first), PARENT, runner)
    runner.down = True
    lost = reconcile(_body(status=running), PARENT, runner)
    assert lost["kfpRunId"] == first["kfpRunId"]
    assert "state" not in lost  # the merge patch keeps the last known state (RUNNING)
    condition = _condition(lost, "Running")
    assert (condition["status"], condition["reason"]) == ("Unknown", "PipelinesUnreachable")


def test_a_failed_run_names_the_step_that_failed() -> None:
    runner = ScriptedRunner()
    first = reconcile(_body(), PARENT, runner)
    run_id = first["kfpRunId"]
    runner.states[run_id] += ["RUNNING", "FAILED"]
    runner.errors[run_id] = "RuntimeError: Pipeline failed. Inner task failed: 'train-dlrm'."
    runner.failed_steps[run_id] = "train-dlrm"
    status = reconcile(_body(status=first), PARENT, runner)
    assert status["failedStep"] == "train-dlrm"
    assert _condition(status, "Failed")["message"].startswith("step train-dlrm: RuntimeError")


def test_a_succeeded_run_reports_its_metrics_and_published_version() -> None:
    runner = ScriptedRunner()
    first = reconcile(_body(), PARENT, runner)
    run_id = first["kfpRunId"]
    runner.states[run_id] += ["RUNNING", "SUCCEEDED"]
    runner.outputs[run_id] = {
        "metrics": {
            "path": "/x",
            "metadata": {"k": 100, "recall_at_k": 0.53, "auc": 0.87, "reranked_recall_at_k": 0.47},
        },
        "data": {
            "path": "/y",
            "metadata": {"users": 6000.0, "profile_less_users": 750.0, "dropped_interactions": 0.0},
        },
        "version": 3,
    }
    status = reconcile(_body(status=first), PARENT, runner)
    assert status["metrics"] == {"k": 100, "recallAtK": 0.53, "auc": 0.87}
    assert status["modelVersions"] == {"homepage": 3}
    # what the data step kept without a profile shows beside the metrics (counts, not floats)
    assert status["data"] == {"users": 6000, "profileLessUsers": 750, "droppedInteractions": 0}


def test_a_run_whose_gate_refused_the_version_reports_metrics_but_no_version() -> None:
    runner = ScriptedRunner()
    first = reconcile(_body(), PARENT, runner)
    run_id = first["kfpRunId"]
    runner.states[run_id] += ["SUCCEEDED"]
    runner.outputs[run_id] = {
        "metrics": {"path": "/x", "metadata": {"auc": 0.8}},
        "accepted": False,
        "version": 0,
    }
    status = reconcile(_body(status=first), PARENT, runner)
    assert status["metrics"] == {"auc": 0.8}
    assert "modelVersions" not in status


def test_run_parameters_reach_the_pipeline_and_bad_ones_fail_the_run_naming_the_key() -> None:
    runner = ScriptedRunner()
    status = reconcile(
        _body(spec={**RUN_SPEC, "parameters": {"evalDay": "3", "newDays": "[2]"}}), PARENT, runner
    )
    config = PipelineConfig.from_argument(str(runner.submitted[0][1]["config"]))
    assert (config.eval_day, config.new_days) == (3, [2])
    assert config.model_volume_claim == "homepage-models"  # the claim Triton mounts as well
    assert status["kfpRunId"]

    refused = reconcile(
        _body(spec={**RUN_SPEC, "parameters": {"learningRate": "1"}}), PARENT, ScriptedRunner()
    )
    assert refused["state"] == "FAILED"
    failed = {c["type"]: c for c in refused["conditions"]}["Failed"]
    assert failed["reason"] == "InvalidParameters" and "learningRate" in failed["message"]


def test_a_clusters_initial_run_warms_valkey_from_history_and_incremental_runs_do_not() -> None:
    runner = ScriptedRunner()
    reconcile(_body(), PARENT, runner)
    reconcile(
        _body(spec=RUN_SPEC) | {"metadata": {**_body()["metadata"], "name": "inc", "uid": "ffff0000"}},
        PARENT,
        runner,
    )
    initial, incremental = (PipelineConfig.from_argument(str(a["config"])) for _, a, _ in runner.submitted)
    assert initial.online is not None
    assert initial.online.redis_url == "redis://homepage-valkey.shop.svc:6379/0"
    assert initial.online.key_namespace == "shop/homepage"
    assert incremental.online is None


def test_local_mode_warms_valkey_itself_so_its_runs_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_PIPELINE_RUNNER", "local")
    runner = ScriptedRunner()
    reconcile(_body(), PARENT, runner)
    ((_, arguments, _),) = runner.submitted
    assert PipelineConfig.from_argument(str(arguments["config"])).online is None


def test_a_hand_made_run_is_adopted_by_its_recommender_once() -> None:
    from recsys_operator.reconcilers.training_run import adopted_owner_references

    parent = {"metadata": {"name": "homepage", "uid": "rs-1"}}
    other = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "name": "a", "uid": "app-1"}
    run = {"metadata": {"name": "manual", "ownerReferences": [other]}}
    refs = adopted_owner_references(run, parent)
    assert refs == [
        other,
        {"apiVersion": "recsys.io/v1alpha1", "kind": "RecommenderSystem", "name": "homepage", "uid": "rs-1"},
    ]
    assert adopted_owner_references({"metadata": {"ownerReferences": refs}}, parent) is None


@pytest.mark.parametrize(
    ("queries", "recall", "reason", "phrase"),
    [
        (1.0, 1.0, "TooLittleEvidence", "evaluated on 1 held-out queries"),
        (900.0, 0.20, "Regressed", "recall@100 0.200 vs serving 0.400"),
    ],
)
def test_a_refused_incremental_run_succeeds_with_the_gates_reason_and_numbers(
    queries: float, recall: float, reason: str, phrase: str
) -> None:
    runner = ScriptedRunner()
    first = reconcile(_body(), PARENT, runner)
    run_id = first["kfpRunId"]
    runner.states[run_id] += ["SUCCEEDED"]
    logged = {
        "k": 100.0, "recall_at_k": recall, "auc": 1.0, "queries": queries, "accepted": 0.0,
        "serving_recall_at_k": 0.40, "serving_auc": 0.80, "min_queries": 200.0, "tolerance": 0.01,
    }  # fmt: skip
    runner.outputs[run_id] = {"metrics": {"path": "/x", "metadata": logged}, "accepted": False, "version": 0}
    status = reconcile(_body(status=first), PARENT, runner)
    succeeded = _condition(status, "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("True", reason)
    assert phrase in succeeded["message"] and "the serving version stays" in succeeded["message"]
    assert status["metrics"]["queries"] == int(queries) and status["metrics"]["servingRecallAtK"] == 0.40
    assert "modelVersions" not in status


def test_the_days_a_run_trained_and_was_evaluated_on_are_in_its_status() -> None:
    from recsys_workloads.pipelines.steps import days_metrics

    runner = ScriptedRunner()
    first = reconcile(_body(), PARENT, runner)
    run_id = first["kfpRunId"]
    runner.states[run_id] += ["SUCCEEDED"]
    logged = {"k": 100.0, "recall_at_k": 0.3, "auc": 0.7, **days_metrics([4, 2, 5, 5], eval_day=6)}
    runner.outputs[run_id] = {"metrics": {"path": "/x", "metadata": logged}, "version": 3}
    metrics = reconcile(_body(status=first), PARENT, runner)["metrics"]
    assert (
        metrics["firstTrainedDay"],
        metrics["lastTrainedDay"],
        metrics["trainedDays"],
        metrics["evalDay"],
    ) == (
        2,
        5,
        3,  # day 3 is a gap: fewer days than the range
        6,
    )
