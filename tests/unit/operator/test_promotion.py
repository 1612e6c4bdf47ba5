"""Promotion of a succeeded TrainingRun's version: the decision, the status it writes, its Event."""

from __future__ import annotations

from typing import Any

import pytest

from recsys_operator.api.recommender_system import ModelStatus, RecommenderSystemStatus
from recsys_operator.reconcilers import promotion
from recsys_operator.reconcilers.promotion import plan
from recsys_operator.status import model_state
from recsys_workloads.contracts.rollout import RolloutResult

SERVING_2 = ModelStatus(current_version=2, previous_version=1, latest_version=2)


@pytest.mark.parametrize(
    ("promote", "state", "produced", "model", "action"),
    [
        ("Auto", "SUCCEEDED", 3, SERVING_2, "switch"),
        ("Manual", "SUCCEEDED", 3, SERVING_2, "record"),
        ("Auto", "SUCCEEDED", 1, SERVING_2, "none"),  # an old run seen again after a restart
        ("Auto", "SUCCEEDED", 2, SERVING_2, "none"),  # promoted already
        (
            "Auto",
            "SUCCEEDED",
            3,
            SERVING_2.model_copy(update={"latest_version": 3}),
            "none",
        ),  # blocked before
        ("Auto", "RUNNING", 3, SERVING_2, "none"),
        ("Auto", "FAILED", 3, SERVING_2, "none"),
        ("Auto", "SUCCEEDED", None, SERVING_2, "none"),  # the incremental gate rejected it
        ("Auto", "SUCCEEDED", 1, ModelStatus(), "switch"),  # the first version
    ],
)
def test_only_a_version_newer_than_any_the_recommender_knows_is_acted_on(
    promote: str, state: str, produced: int | None, model: ModelStatus, action: str
) -> None:
    assert plan(promote, state, produced, model).action == action


def test_a_blocked_rollout_keeps_the_serving_version_and_marks_the_version_seen() -> None:
    failed = RolloutResult(
        model="homepage",
        current_version=2,
        previous_version=2,
        transition="BlockedByFailedLoad",
        message="/models/3: dlrm_ranking: load failed",
    )
    after = promotion.switched(SERVING_2, 3, failed)
    assert (after.current_version, after.previous_version, after.latest_version) == (2, 1, 3)
    assert (after.transition, after.message) == ("BlockedByFailedLoad", failed.message)
    assert plan("Auto", "SUCCEEDED", 3, after).action == "none"  # not retried on every restart
    assert plan("Auto", "SUCCEEDED", 4, after).action == "switch"  # the next version is


def test_a_successful_switch_moves_current_to_previous() -> None:
    ok = RolloutResult(model="homepage", current_version=3, previous_version=2, transition="UpToDate")
    after = promotion.switched(SERVING_2, 3, ok)
    assert (after.current_version, after.previous_version, after.latest_version, after.transition) == (
        3,
        2,
        3,
        "UpToDate",
    )


def test_without_a_pod_to_switch_the_version_is_recorded_for_the_pods_to_start_on() -> None:
    after = promotion.switched(ModelStatus(), 1, None)
    assert (after.current_version, after.previous_version, after.transition) == (1, None, "UpToDate")
    assert after.message is not None and "start on version 1" in after.message


class Pods:
    """The adapter's protocol, answering with a scripted result; records what it was asked."""

    def __init__(self, result: RolloutResult | None) -> None:
        self.result = result
        self.asked: list[int] = []

    def switch(self, version: int) -> RolloutResult | None:
        self.asked.append(version)
        return self.result


PARENT: dict[str, Any] = {
    "metadata": {"name": "homepage", "namespace": "shop", "generation": 4},
    "status": {
        "model": {"currentVersion": 2, "previousVersion": 1, "latestVersion": 2, "message": "old"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "AllComponentsReady",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    },
}


def test_auto_writes_in_progress_then_the_outcome_with_whole_condition_lists() -> None:
    pods = Pods(RolloutResult(model="homepage", current_version=3, previous_version=2, transition="UpToDate"))
    patches: list[dict[str, Any]] = []
    run = {"state": "SUCCEEDED", "builtWith": {"models": "abc", "filtering.windowDays": "3"}}
    event = promotion.promote("Auto", run, PARENT, 3, pods, patches.append)
    assert pods.asked == [3]
    rolling, done = patches
    assert rolling["model"]["transition"] == "InProgress" and rolling["model"]["latestVersion"] == 2
    assert done["model"] == {
        "currentVersion": 3,
        "previousVersion": 2,
        "latestVersion": 3,
        "transition": "UpToDate",
        "message": "version 3 serves (was 2)",
        "builtWith": {"models": "abc", "filtering.windowDays": "3"},  # the producing run's, now serving
    }
    for patch in patches:  # whole lists: the Ready condition is carried, not dropped
        assert [c["type"] for c in patch["conditions"]] == ["Ready", "ModelUpToDate"]
        RecommenderSystemStatus.model_validate({"conditions": patch["conditions"], "model": patch["model"]})
    up_to_date = done["conditions"][1]
    assert (up_to_date["status"], up_to_date["reason"], up_to_date["observedGeneration"]) == (
        "True",
        "UpToDate",
        4,
    )
    assert event is not None and (event.type, event.reason) == ("Normal", "ModelVersionPromoted")


def test_a_blocked_switch_is_a_warning_event_and_a_false_condition() -> None:
    message = "/models/3: dlrm_ranking: load failed; the previous version serves"
    pods = Pods(
        RolloutResult(
            model="homepage",
            current_version=2,
            previous_version=2,
            transition="BlockedByFailedLoad",
            message=message,
        )
    )
    patches: list[dict[str, Any]] = []
    run = {"state": "SUCCEEDED", "builtWith": {"models": "new"}}
    event = promotion.promote("Auto", run, PARENT, 3, pods, patches.append)
    model, condition = patches[-1]["model"], patches[-1]["conditions"][1]
    assert (model["currentVersion"], model["transition"], model["message"]) == (
        2,
        "BlockedByFailedLoad",
        message,
    )
    assert model["builtWith"] == {}  # version 2 still serves: not what version 3 was built with
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "BlockedByFailedLoad",
        message,
    )
    assert event is not None and (event.type, event.reason, event.message) == (
        "Warning",
        "BlockedByFailedLoad",
        message,
    )


def test_manual_records_the_version_without_touching_triton() -> None:
    pods = Pods(None)
    patches: list[dict[str, Any]] = []
    event = promotion.promote("Manual", {"state": "SUCCEEDED"}, PARENT, 3, pods, patches.append)
    assert pods.asked == []
    (patch,) = patches
    assert (patch["model"]["currentVersion"], patch["model"]["latestVersion"]) == (2, 3)
    condition = patch["conditions"][1]
    assert (condition["status"], condition["reason"]) == ("False", "AwaitingPromotion")
    assert event is not None and event.reason == "ModelVersionRecorded"


def test_nothing_new_writes_nothing() -> None:
    patches: list[dict[str, Any]] = []
    assert promotion.promote("Auto", {"state": "SUCCEEDED"}, PARENT, 2, Pods(None), patches.append) is None
    assert promotion.promote("Auto", {"state": "RUNNING"}, PARENT, 3, Pods(None), patches.append) is None
    assert patches == []


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (ModelStatus(), (False, "NoVersion")),
        (SERVING_2, (True, "UpToDate")),
        (SERVING_2.model_copy(update={"latest_version": 3}), (False, "AwaitingPromotion")),
        (SERVING_2.model_copy(update={"transition": "InProgress"}), (False, "RollingOut")),
        (SERVING_2.model_copy(update={"transition": "BlockedByFailedLoad"}), (False, "BlockedByFailedLoad")),
    ],
)
def test_model_up_to_date_says_whether_the_newest_trained_version_serves(
    model: ModelStatus, expected: tuple[bool, str]
) -> None:
    assert model_state(model)[:2] == expected
