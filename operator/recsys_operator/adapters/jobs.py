"""TrainingRuns as Kubernetes Jobs (spec.training.orchestrator `job`): the `PipelineRunner` port.

Submission is idempotent by the Job's name (derived from the run's uid), so a restarted
operator finds the Job it created instead of starting a second one. The state comes from the
Job's conditions and its pod: a pending pod's problem (an image that cannot be pulled, a claim
that cannot bind) is the run's message, and the pod's termination message (pipelines/job.py)
gives the outcome, the failed step and the metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from recsys_operator.adapters.kube import Cluster, ClusterCallError
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.diagnosis import first_pod_problem
from recsys_operator.manifests import training_job
from recsys_operator.manifests.common import Owner
from recsys_workloads.contracts.job import CONTAINER, JobOutcome
from recsys_workloads.contracts.runs import (
    RunnerUnavailableError,
    RunRejectedError,
    RunState,
    RunStatus,
    StateChange,
)


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _main_container(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((c for c in statuses if c.get("name") == CONTAINER), {})


def run_status(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> RunStatus:
    """What the Job and its (newest) pod say about the run; pure, for tests and the runner."""
    meta, status = job.get("metadata") or {}, job.get("status") or {}
    name = str(meta.get("name", ""))
    template = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
    pipeline = str((template[0].get("command") or [""])[-1])
    pod = max(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""), default={})
    container = _main_container(pod)
    state_of_container = container.get("state") or {}
    terminated = state_of_container.get("terminated") or {}
    outcome = JobOutcome.from_message(terminated.get("message") or "") if terminated else None
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if c.get("status") == "True"}

    history: list[StateChange] = []
    created = _time(meta.get("creationTimestamp"))
    if created is not None:
        history.append(StateChange(state="PENDING", time=created))
    started = _time((state_of_container.get("running") or terminated).get("startedAt"))
    if started is not None:
        history.append(StateChange(state="RUNNING", time=started))

    state: RunState
    error = message = None
    if "Complete" in conditions:
        state = "SUCCEEDED"
    elif "Failed" in conditions:
        state = "FAILED"
        failed = conditions["Failed"]
        if outcome is not None and outcome.state == "FAILED":
            error = outcome.error
        elif terminated:  # killed before it could write an outcome (OOMKilled, a signal)
            error = f"the pipeline container ended: {terminated.get('reason', 'Error')} (exit {terminated.get('exitCode')})"
        else:
            error = f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".strip(": ")
    elif state_of_container.get("running") or terminated:
        state = "RUNNING"
    else:
        state = "PENDING"
        problem = first_pod_problem([pod]) if pod else None
        message = f"{problem.reason}: {problem.message}" if problem else None
    if state in ("SUCCEEDED", "FAILED"):
        finished = _time(status.get("completionTime")) or _time(terminated.get("finishedAt"))
        finished = finished or (_time(conditions.get("Failed", {}).get("lastTransitionTime")))
        if finished is not None:
            history.append(StateChange(state=state, time=finished))
    return RunStatus(
        run_id=name,
        pipeline=pipeline,
        state=state,
        history=history,
        error=error,
        failed_step=outcome.failed_step if outcome else None,
        message=message,
        outputs=outcome.outputs if outcome is not None and state == "SUCCEEDED" else {},
    )


class JobRunner:
    """One TrainingRun's Job in its namespace; `run_meta` is the TrainingRun's metadata."""

    def __init__(
        self, cluster: Cluster, owner: Owner, spec: RecommenderSystemSpec, run_meta: Mapping[str, Any]
    ) -> None:
        self.cluster = cluster
        self.owner = owner
        self.spec = spec
        self.run_meta = run_meta

    def submit(self, pipeline: str, arguments: dict[str, object], run_name: str) -> str:
        name = training_job.job_name(self.run_meta)
        with _as_runner_errors():
            if self.cluster.get("batch/v1", "Job", name, self.owner.namespace) is None:
                manifest = training_job.job(
                    self.owner, self.run_meta, self.spec, pipeline, arguments, run_name
                )
                self.cluster.apply(manifest)
        return name

    def status(self, run_id: str) -> RunStatus:
        with _as_runner_errors():
            job = self.cluster.get("batch/v1", "Job", run_id, self.owner.namespace)
            if job is None:
                return RunStatus(
                    run_id=run_id, pipeline="", state="FAILED", error=f"Job {run_id} no longer exists"
                )
            pods = self.cluster.select("v1", "Pod", self.owner.namespace, label_selector={"job-name": run_id})
        return run_status(job, pods)

    def cancel(self, run_id: str) -> None:
        self.cluster.delete("batch/v1", "Job", run_id, self.owner.namespace)


@contextmanager
def _as_runner_errors() -> Iterator[None]:
    """The API server as an orchestrator: a refused Job fails the run, an unanswered call waits."""
    try:
        yield
    except ClusterCallError as exc:
        if exc.permanent:
            raise RunRejectedError("JobRejected", str(exc)) from exc
        raise RunnerUnavailableError("ApiServerError", str(exc)) from exc
