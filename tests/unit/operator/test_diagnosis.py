"""Why a component is not ready, from pods and claims as the API server reports them."""

from __future__ import annotations

from typing import Any

import pytest

from recsys_operator.diagnosis import MAX_MESSAGE, claim_problem, first_pod_problem, pod_problem


def _pod(name: str = "shop-api-1", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"phase": "Pending", **status}}


def _waiting(reason: str, message: str = "", **extra: Any) -> dict[str, Any]:
    return {"name": "api", "state": {"waiting": {"reason": reason, "message": message}}, **extra}


@pytest.mark.parametrize(
    "reason",
    [
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
    ],
)
def test_a_container_that_cannot_start_names_the_kubelets_reason_and_words(reason: str) -> None:
    problem = pod_problem(_pod(containerStatuses=[_waiting(reason, "the kubelet says why")]))
    assert problem is not None
    assert problem.reason == reason
    assert problem.message == "pod shop-api-1 container api: the kubelet says why"


def test_a_crash_loop_carries_the_last_exit_and_its_termination_message() -> None:
    last = {"terminated": {"exitCode": 1, "reason": "Error", "message": "FileNotFoundError: /models/catalog"}}
    container = _waiting("CrashLoopBackOff", "back-off 40s restarting failed container", lastState=last)
    problem = pod_problem(_pod(phase="Running", containerStatuses=[container]))
    assert problem is not None and problem.reason == "CrashLoopBackOff"
    assert problem.message.endswith("; last exit 1 (Error): FileNotFoundError: /models/catalog")


def test_an_init_container_is_diagnosed_like_the_main_one() -> None:
    problem = pod_problem(_pod(initContainerStatuses=[_waiting("ImagePullBackOff", "no such image")]))
    assert problem is not None and problem.reason == "ImagePullBackOff"


def test_a_pod_the_scheduler_cannot_place_says_what_is_missing() -> None:
    unscheduled = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient cpu.",
    }
    problem = pod_problem(_pod(conditions=[unscheduled]))
    assert problem is not None
    assert (problem.reason, problem.message) == (
        "Unschedulable",
        "pod shop-api-1: 0/1 nodes are available: 1 Insufficient cpu.",
    )


def test_pods_that_start_normally_or_run_have_no_problem() -> None:
    assert pod_problem(_pod(containerStatuses=[_waiting("ContainerCreating")])) is None
    running = {"name": "api", "state": {"running": {"startedAt": "2026-12-02T10:00:00Z"}}}
    assert pod_problem(_pod(phase="Running", containerStatuses=[running])) is None


def test_a_pod_on_its_way_out_says_nothing_about_the_component() -> None:
    leaving = _pod("old", containerStatuses=[_waiting("ErrImagePull", "gone")])
    leaving["metadata"]["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    assert first_pod_problem([leaving]) is None
    assert (
        first_pod_problem([leaving, _pod("new", containerStatuses=[_waiting("ErrImagePull", "x")])])
        is not None
    )


def test_messages_are_bounded_and_on_one_line() -> None:
    problem = pod_problem(_pod(containerStatuses=[_waiting("ErrImagePull", "line\n" * 500)]))
    assert problem is not None and len(problem.message) == MAX_MESSAGE and "\n" not in problem.message


def _claim(phase: str, klass: str | None = "efs-sc") -> dict[str, Any]:
    spec = {"storageClassName": klass} if klass else {}
    return {"metadata": {"name": "shop-models"}, "spec": spec, "status": {"phase": phase}}


def test_a_claim_naming_a_missing_storage_class_says_so_and_what_to_do() -> None:
    problem = claim_problem(_claim("Pending"), "shop-models", [], storage_class_exists=False)
    assert problem is not None and problem.reason == "StorageClassNotFound"
    assert "StorageClass 'efs-sc' does not exist" in problem.message
    assert "kubectl get storageclass" in problem.message


def test_a_pending_claim_repeats_the_latest_warning_of_its_provisioner() -> None:
    events = [
        {"type": "Normal", "message": "waiting for a volume", "lastTimestamp": "2026-12-02T10:00:02Z"},
        {"type": "Warning", "message": "failed to provision: quota", "lastTimestamp": "2026-12-02T10:00:01Z"},
        {
            "type": "Warning",
            "message": "failed to provision: access point",
            "lastTimestamp": "2026-12-02T10:00:03Z",
        },
    ]
    problem = claim_problem(_claim("Pending"), "shop-models", events, storage_class_exists=True)
    assert problem is not None and problem.reason == "VolumeNotBound"
    assert (
        problem.message == "PersistentVolumeClaim shop-models is Pending: failed to provision: access point"
    )


def test_bound_and_not_yet_created_claims_have_no_problem() -> None:
    assert claim_problem(_claim("Bound"), "shop-models", [], storage_class_exists=True) is None
    assert claim_problem(None, "shop-models", [], storage_class_exists=None) is None
    lost = claim_problem(_claim("Lost"), "shop-models", [], storage_class_exists=True)
    assert lost is not None and lost.reason == "VolumeLost"
