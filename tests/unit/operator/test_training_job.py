"""TrainingRuns as Jobs (orchestrator job): the Job's manifest, its state, submission once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from recsys_operator.adapters.jobs import JobRunner, run_status
from recsys_operator.adapters.kube import ClusterCallError
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests.common import Manifest, Owner
from recsys_operator.manifests.training_job import EVENT_LOG_MOUNT, MAX_NAME, job, job_name
from recsys_operator.reconcilers.training_run import reconcile
from recsys_workloads.contracts.job import ARGUMENTS_ENV, CONTAINER, JobOutcome

OWNER = Owner(name="shop", namespace="ns", uid="rs-uid")
RUN = {"name": "shop-initial", "uid": "0123456789abcdef"}


def _spec(**training: Any) -> RecommenderSystemSpec:
    return RecommenderSystemSpec.model_validate({"training": {"orchestrator": "job", **training}})


def test_the_job_runs_the_pipeline_in_the_training_image_on_the_model_volume() -> None:
    spec = _spec(image="example/workloads:1", resources={"cpu": "500m", "memory": "3Gi"}, timeoutMinutes=30)
    manifest = job(OWNER, RUN, spec, "initial", {"config": "{}"}, "ns-shop-initial-01234567")
    assert manifest["metadata"]["name"] == "shop-initial-01234567"
    (ref,) = manifest["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "TrainingRun",
        "shop-initial",
        RUN["uid"],
        True,
    )
    job_spec = manifest["spec"]
    assert (job_spec["backoffLimit"], job_spec["activeDeadlineSeconds"]) == (0, 1800)
    pod = job_spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["name"] == CONTAINER and container["image"] == "example/workloads:1"
    assert container["command"] == ["python", "-m", "recsys_workloads.pipelines.job_run", "initial"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert json.loads(env[ARGUMENTS_ENV]) == {"config": "{}"}
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "3Gi"},
        "limits": {"memory": "3Gi"},
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/models", "/tmp", EVENT_LOG_MOUNT}
    assert mounts[EVENT_LOG_MOUNT]["readOnly"] is True
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"shop-models", "shop-event-log"}


def test_without_an_event_service_there_is_no_event_log_to_mount_and_gpus_are_asked_for() -> None:
    spec = RecommenderSystemSpec.model_validate(
        {"events": {"replicas": 0}, "training": {"orchestrator": "job", "gpu": True}}
    )
    pod = job(OWNER, RUN, spec, "incremental", {}, "r")["spec"]["template"]["spec"]
    assert EVENT_LOG_MOUNT not in {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_job_names_are_valid_label_values_and_stable() -> None:
    long = {"name": "a-very-long-training-run-name-" + "x" * 60, "uid": "fedcba98-7654"}
    name = job_name(long)
    assert len(name) <= MAX_NAME and name.endswith("-fedcba98") and name == job_name(long)


def _job(**status: Any) -> Manifest:
    return {
        "metadata": {"name": "shop-initial-01234567", "creationTimestamp": "2026-12-02T10:00:00Z"},
        "spec": {"template": {"spec": {"containers": [{"command": ["python", "-m", "x", "initial"]}]}}},
        "status": status,
    }


def _pod(state: dict[str, Any], **extra: Any) -> Manifest:
    return {
        "metadata": {"name": "shop-initial-01234567-abcde", "creationTimestamp": "2026-12-02T10:00:01Z"},
        "status": {"containerStatuses": [{"name": CONTAINER, "state": state, **extra}]},
    }


def test_a_pending_pod_that_cannot_pull_its_image_is_the_runs_message() -> None:
    waiting = {"waiting": {"reason": "ErrImageNeverPull", "message": "image example/w:1 is not present"}}
    status = run_status(_job(active=1), [_pod(waiting)])
    assert (status.state, status.pipeline) == ("PENDING", "initial")
    assert status.message == (
        "ErrImageNeverPull: pod shop-initial-01234567-abcde container pipeline: image example/w:1 is not present"
    )


def test_a_running_pod_makes_the_run_running_with_its_start_time() -> None:
    status = run_status(_job(active=1), [_pod({"running": {"startedAt": "2026-12-02T10:00:05Z"}})])
    assert status.state == "RUNNING"
    assert [c.state for c in status.history] == ["PENDING", "RUNNING"]


def test_a_succeeded_job_reports_the_outcome_its_pod_left_in_the_termination_message() -> None:
    outcome = JobOutcome(state="SUCCEEDED", outputs={"metrics": {"metadata": {"auc": 0.8}}, "version": 2})
    terminated = {
        "terminated": {
            "exitCode": 0,
            "message": outcome.to_message(),
            "startedAt": "2026-12-02T10:00:05Z",
            "finishedAt": "2026-12-02T10:05:00Z",
        }
    }
    done = {"conditions": [{"type": "Complete", "status": "True"}], "completionTime": "2026-12-02T10:05:01Z"}
    status = run_status(_job(**done), [_pod(terminated)])
    assert status.state == "SUCCEEDED"
    assert status.outputs == {"metrics": {"metadata": {"auc": 0.8}}, "version": 2}
    assert [c.state for c in status.history] == ["PENDING", "RUNNING", "SUCCEEDED"]


def test_a_failed_job_names_the_step_and_the_error() -> None:
    outcome = JobOutcome(state="FAILED", error="RuntimeError: boom", failed_step="train-dlrm")
    terminated = {"terminated": {"exitCode": 1, "message": outcome.to_message()}}
    failed = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}
    status = run_status(_job(**failed), [_pod(terminated)])
    assert (status.state, status.failed_step, status.error) == ("FAILED", "train-dlrm", "RuntimeError: boom")


def test_a_pod_killed_before_it_wrote_an_outcome_says_how_it_ended() -> None:
    terminated = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    failed = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}
    status = run_status(_job(**failed), [_pod(terminated)])
    assert status.state == "FAILED" and status.error is not None
    assert "OOMKilled" in status.error and "137" in status.error


def test_a_job_past_its_deadline_fails_with_the_jobs_own_reason() -> None:
    failed = {
        "conditions": [
            {
                "type": "Failed",
                "status": "True",
                "reason": "DeadlineExceeded",
                "message": "Job was active longer than specified deadline",
            }
        ]
    }
    status = run_status(_job(**failed), [])
    assert status.state == "FAILED"
    assert status.error == "DeadlineExceeded: Job was active longer than specified deadline"


class JobCluster:
    def __init__(self) -> None:
        self.applied: list[Manifest] = []
        self.jobs: dict[str, Manifest] = {}
        self.deleted: list[str] = []

    def apply(self, manifest: Manifest) -> Manifest:
        self.applied.append(manifest)
        self.jobs[manifest["metadata"]["name"]] = manifest
        return manifest

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None:
        return self.jobs.get(name)

    def select(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        label_selector: dict[str, str] | None = None,
        field_selector: dict[str, str] | None = None,
    ) -> list[Manifest]:
        return []

    def hpa_api_version(self) -> str:
        return "autoscaling/v2"

    def patch_status(self, api_version: str, kind: str, name: str, namespace: str, status: Manifest) -> None:
        raise AssertionError("not used")

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        self.deleted.append(name)
        return self.jobs.pop(name, None) is not None


def test_submitting_twice_creates_one_job_and_cancel_deletes_it() -> None:
    cluster = JobCluster()
    runner = JobRunner(cluster, OWNER, _spec(), RUN)
    first = runner.submit("initial", {"config": "{}"}, "ns-shop-initial-01234567")
    second = runner.submit("initial", {"config": "{}"}, "ns-shop-initial-01234567")
    assert first == second == "shop-initial-01234567" and len(cluster.applied) == 1
    assert runner.status(first).state == "PENDING"
    runner.cancel(first)
    assert cluster.deleted == [first]
    gone = runner.status(first)
    assert gone.state == "FAILED" and gone.error == f"Job {first} no longer exists"


class RefusingJobCluster(JobCluster):
    def __init__(self, code: int | None) -> None:
        super().__init__()
        self.code = code

    def apply(self, manifest: Manifest) -> Manifest:
        name = manifest["metadata"]["name"]
        raise ClusterCallError(
            "apply", "Job", name, self.code, "spec.template.spec.containers[0].image: Required"
        )


def _reconcile_with(cluster: JobCluster, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("RECSYS_ARTIFACT_ROOT", raising=False)
    parent = {"metadata": {"name": "shop"}, "spec": {"training": {"orchestrator": "job"}}}
    body = {
        "metadata": {"name": RUN["name"], "namespace": "ns", "uid": RUN["uid"], "generation": 1},
        "spec": {"recommenderRef": {"name": "shop"}, "type": "Initial"},
    }
    return reconcile(body, parent, JobRunner(cluster, OWNER, _spec(), RUN))


def test_a_job_the_server_refuses_fails_the_run_with_the_servers_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status = _reconcile_with(RefusingJobCluster(422), monkeypatch)
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert (status["state"], failed["status"], failed["reason"]) == ("FAILED", "True", "JobRejected")
    assert "Job shop-initial-01234567: HTTP 422" in failed["message"]
    assert "containers[0].image: Required" in failed["message"]


def test_a_job_the_server_cannot_take_now_waits_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    status = _reconcile_with(RefusingJobCluster(503), monkeypatch)
    created = next(c for c in status["conditions"] if c["type"] == "Created")
    assert (status["state"], created["status"], created["reason"]) == ("PENDING", "False", "ApiServerError")
    assert "HTTP 503" in created["message"]
