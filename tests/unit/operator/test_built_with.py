"""What a version was trained with, what the spec changed since, and where both show in the status."""

from __future__ import annotations

from typing import Any

import pytest

from recsys_operator.adapters.pipelines import Storage
from recsys_operator.api.recommender_system import ModelStatus, RecommenderSystemSpec
from recsys_operator.api.training_run import TrainingRunSpec
from recsys_operator.reconcilers import built_with
from recsys_operator.reconcilers.recommender_system import reconcile
from recsys_operator.reconcilers.training_run import pipeline_config
from recsys_operator.status import model_state

from .test_reconcile import RecordingCluster

STORAGE = Storage(artifact_root="/artifacts", model_repository="/models", model_volume_claim=None)
RUN = TrainingRunSpec.model_validate({"recommenderRef": {"name": "homepage"}, "type": "Initial"})


def spec(**changes: Any) -> RecommenderSystemSpec:
    return RecommenderSystemSpec.model_validate(changes)


def recorded(parent: RecommenderSystemSpec, run: TrainingRunSpec = RUN) -> dict[str, str]:
    return built_with.built_with(pipeline_config("homepage", parent, run, STORAGE))


@pytest.mark.parametrize(
    "parent",
    [
        spec(),
        spec(training={"orchestrator": "job", "historyReplayRatio": 0.5}, events={"replicas": 1}),
        spec(models={"dlrm": {"epochs": 3}}, retrieval={"factory": "HNSW32"}, filtering={"windowDays": 3}),
    ],
)
def test_a_run_without_overrides_records_what_the_spec_says(parent: RecommenderSystemSpec) -> None:
    assert recorded(parent) == built_with.of_spec(parent)
    assert built_with.changed_since_training(recorded(parent), parent) == []


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        ({"models": {"dlrm": {"epochs": 3}}}, ["models"]),
        ({"training": {"historyReplayRatio": 0.7}}, ["models"]),  # the fine-tune replay ratio
        ({"dataSources": {"layout": "generated", "generator": {"users": 50}}}, ["dataSources"]),
        ({"retrieval": {"factory": "HNSW32"}}, ["retrieval.factory"]),
        ({"retrieval": {"metric": "l2"}}, ["retrieval.metric"]),
        ({"filtering": {"windowDays": 3}}, ["filtering.windowDays"]),
        # fields that act at serving load or on the pods now: nothing waits for training
        ({"retrieval": {"topK": 50, "nprobe": 4, "efSearch": 32}}, []),
        ({"ranking": {"topK": 20}, "reranking": {"numItems": 5}, "serving": {"replicas": 2}}, []),
        ({"filtering": {"capacity": 20_000}}, []),
    ],
)
def test_each_training_time_field_is_named_when_the_spec_moves_past_the_serving_version(
    edit: dict[str, Any], changed: list[str]
) -> None:
    assert built_with.changed_since_training(recorded(spec()), spec(**edit)) == changed


def test_a_run_with_parameter_overrides_records_what_it_really_used() -> None:
    run = TrainingRunSpec.model_validate(
        {"recommenderRef": {"name": "homepage"}, "type": "Initial", "parameters": {"models.dlrm.epochs": "4"}}
    )
    assert built_with.changed_since_training(recorded(spec(), run), spec()) == ["models"]


def test_a_version_that_recorded_nothing_reports_no_changes() -> None:
    assert built_with.changed_since_training({}, spec(models={"dlrm": {"epochs": 3}})) == []
    assert built_with.changed_since_training({"models": "x"}, spec(filtering={"windowDays": 3})) == ["models"]


def test_model_up_to_date_stays_true_and_names_the_fields_waiting_for_training() -> None:
    ready, reason, message = model_state(ModelStatus(current_version=2, latest_version=2), ["models"])
    assert (ready, reason) == (True, "SpecChangedSinceTraining")
    assert "spec.models" in message and "next training run" in message


def test_the_recommenders_status_says_which_fields_wait_for_the_next_training_run() -> None:
    model = {"currentVersion": 2, "latestVersion": 2, "builtWith": recorded(spec())}
    body = {
        "metadata": {"name": "homepage", "namespace": "shop", "uid": "u-1", "generation": 3},
        "spec": {"models": {"dlrm": {"epochs": 3}}, "retrieval": {"nprobe": 4}},
        "status": {"model": model},
    }
    status = reconcile(body, RecordingCluster(ready=True))
    condition = next(c for c in status["conditions"] if c["type"] == "ModelUpToDate")
    assert (condition["status"], condition["reason"]) == ("True", "SpecChangedSinceTraining")
    assert "spec.models " in condition["message"] and "spec.retrieval" not in condition["message"]
    body["spec"] = {}
    status = reconcile(body, RecordingCluster(ready=True))
    condition = next(c for c in status["conditions"] if c["type"] == "ModelUpToDate")
    assert condition["reason"] == "UpToDate"


def test_an_incremental_run_keeps_what_fine_tuning_carries_over_from_the_serving_version() -> None:
    serving = recorded(spec())
    edited = spec(
        models={"dlrm": {"epochs": 3}}, retrieval={"factory": "HNSW32"}, dataSources={"layout": "rds"}
    )
    incremental = TrainingRunSpec.model_validate(
        {"recommenderRef": {"name": "homepage"}, "type": "Incremental"}
    )
    config = pipeline_config("homepage", edited, incremental, STORAGE)
    got = built_with.for_run(config, serving)
    assert {k: got[k] for k in built_with.CARRIED_BY_FINE_TUNE} == {
        k: serving[k] for k in built_with.CARRIED_BY_FINE_TUNE
    }
    assert built_with.changed_since_training(got, edited) == [
        "models",
        "retrieval.factory",
    ]  # data: read anew
    initial = built_with.for_run(pipeline_config("homepage", edited, RUN, STORAGE), serving)
    assert built_with.changed_since_training(initial, edited) == []
    unknown = built_with.for_run(config, {})  # fine-tuning a version that recorded nothing
    assert set(unknown) == {"dataSources"} and built_with.changed_since_training(unknown, edited) == []
