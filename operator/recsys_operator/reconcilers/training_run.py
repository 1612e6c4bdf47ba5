"""One pass over a TrainingRun: submit its pipeline once, then mirror the run's state.

The KFP run id is written to status in the same patch that records the submission, and
run names are deterministic (namespace, name, uid), so a restarted operator finds the
run instead of submitting it twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from recsys_operator.adapters.pipelines import Storage, online_warmup, storage_for
from recsys_operator.api import API_VERSION
from recsys_operator.api import recommender_system as rs
from recsys_operator.api import training_run as tr
from recsys_operator.api.conditions import Condition, set_condition
from recsys_operator.api.recommender_system import ModelStatus, RecommenderSystemSpec
from recsys_operator.api.training_run import DataSummary, TrainingMetrics, TrainingRunSpec
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers import built_with
from recsys_workloads.contracts.gate import verdict_from_metrics
from recsys_workloads.contracts.pipelines import OnlineWarmup, PipelineConfig, Toleration, apply_overrides
from recsys_workloads.contracts.runs import (
    PipelineRunner,
    RunnerUnavailableError,
    RunRejectedError,
    RunStatus,
)
from recsys_workloads.contracts.serving import ENSEMBLE

DEFAULT_PIPELINES = {"Initial": "initial", "Incremental": "incremental"}


def run_name(meta: Mapping[str, Any]) -> str:
    return f"{meta['namespace']}-{meta['name']}-{str(meta['uid'])[:8]}"


GPU_TOLERATION = Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")


def pipeline_config(
    recommender: str,
    parent: RecommenderSystemSpec,
    run: TrainingRunSpec,
    storage: Storage,
    online: OnlineWarmup | None = None,
) -> PipelineConfig:
    """The one parameters object: the recommender's spec, narrowed to this run."""
    config = PipelineConfig(
        recommender=recommender,
        run_type=run.type,
        data_sources=built_with.training_sources(parent),
        models=built_with.training_models(parent),
        retrieval=parent.retrieval,
        artifact_root=storage.artifact_root,
        model_repository=storage.model_repository,
        gpu=parent.training.gpu,
        tolerations=[GPU_TOLERATION] if parent.training.gpu else [],
        model_volume_claim=storage.model_volume_claim,
        history_memory_days=parent.filtering.window_days,
        online=online if run.type == "Initial" else None,
    )
    return apply_overrides(config, run.parameters, start=run.data_window.start, end=run.data_window.end)


def _conditions(status: Mapping[str, Any]) -> list[Condition]:
    return [Condition.model_validate(c) for c in status.get("conditions") or []]


def succeeded_reason(run: RunStatus) -> tuple[str, str]:
    """RunSucceeded, or the incremental gate's reason (Promoted, TooLittleEvidence, Regressed) in numbers."""
    metrics = run.outputs.get("metrics")
    metadata = metrics.get("metadata") if isinstance(metrics, dict) else None
    verdict = verdict_from_metrics(metadata) if isinstance(metadata, dict) else None
    if verdict is None:
        return "RunSucceeded", ""
    return verdict.reason, verdict.message


def state_conditions(current: list[Condition], run: RunStatus, generation: int) -> list[Condition]:
    """Created/Running/Succeeded/Failed from a run's state (Kubernetes Job-like)."""
    conditions = set_condition(current, tr.CREATED, "True", "Submitted", f"run {run.run_id}", generation)
    running = run.state in ("PENDING", "RUNNING", "CANCELING")
    conditions = set_condition(
        conditions,
        tr.RUNNING,
        "True" if run.state in ("RUNNING", "CANCELING") else "False",
        f"Run{run.state.title()}",
        (run.message or "") if running else "",
        generation,
    )
    if run.state == "SUCCEEDED":
        reason, message = succeeded_reason(run)
        conditions = set_condition(conditions, tr.SUCCEEDED, "True", reason, message, generation)
        conditions = set_condition(conditions, tr.FAILED, "False", "RunSucceeded", "", generation)
    elif run.state in ("FAILED", "CANCELED"):
        reason = "RunFailed" if run.state == "FAILED" else "RunCanceled"
        error = run.error or run.state.lower()
        message = f"step {run.failed_step}: {error}" if run.failed_step else error
        conditions = set_condition(conditions, tr.SUCCEEDED, "False", reason, "", generation)
        conditions = set_condition(conditions, tr.FAILED, "True", reason, message, generation)
    return conditions


def unavailable(
    current: list[Condition], status: Mapping[str, Any], exc: RunnerUnavailableError, generation: int
) -> dict[str, Any]:
    """The orchestrator cannot be asked now: not submitted yet -> Created False; else Running Unknown.

    The last known state stays, so a run that was RUNNING is not reported as anything else.
    """
    if status.get("kfpRunId") is None:
        conditions = set_condition(current, tr.CREATED, "False", exc.reason, str(exc), generation)
        return {
            "observedGeneration": generation,
            "state": "PENDING",
            "conditions": [c.to_spec() for c in conditions],
        }
    conditions = set_condition(current, tr.RUNNING, "Unknown", exc.reason, str(exc), generation)
    return {"observedGeneration": generation, "conditions": [c.to_spec() for c in conditions]}


def _failed(current: list[Condition], reason: str, message: str, generation: int) -> dict[str, Any]:
    conditions = set_condition(current, tr.FAILED, "True", reason, message, generation)
    conditions = set_condition(conditions, tr.SUCCEEDED, "False", reason, "", generation)
    return {
        "observedGeneration": generation,
        "conditions": [c.to_spec() for c in conditions],
        "state": "FAILED",
    }


def reconcile(
    body: Mapping[str, Any],
    parent: Mapping[str, Any] | None,
    runner: PipelineRunner,
    pipelines: Mapping[str, str] = DEFAULT_PIPELINES,
) -> dict[str, Any]:
    """The new `.status` of a TrainingRun (conditions as whole lists)."""
    meta = body["metadata"]
    status = body.get("status") or {}
    generation = int(meta.get("generation") or 0)
    current = _conditions(status)
    run_id = status.get("kfpRunId")
    recorded: dict[str, Any] = {}
    if run_id is None:
        try:
            spec = TrainingRunSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            return _failed(current, "InvalidSpec", str(exc).splitlines()[0], generation)
        if parent is None:
            conditions = set_condition(
                current, tr.CREATED, "False", "RecommenderNotFound", spec.recommender_ref.name, generation
            )
            return {"observedGeneration": generation, "conditions": [c.to_spec() for c in conditions]}
        try:
            parent_spec = RecommenderSystemSpec.model_validate(parent.get("spec") or {})
        except ValidationError:
            return _failed(
                current, "InvalidRecommender", f"{spec.recommender_ref.name} has an invalid spec", generation
            )
        try:
            storage = storage_for(str(meta["namespace"]), spec.recommender_ref.name, parent_spec.training)
            owner = Owner(name=spec.recommender_ref.name, namespace=str(meta["namespace"]), uid="")
            online = online_warmup(owner, parent_spec)
            config = pipeline_config(spec.recommender_ref.name, parent_spec, spec, storage, online)
        except RunnerUnavailableError as exc:
            return unavailable(current, status, exc, generation)
        except ValueError as exc:  # spec.parameters or spec.dataWindow the pipeline cannot take
            return _failed(current, "InvalidParameters", str(exc), generation)
        try:
            run_id = runner.submit(pipelines[spec.type], {"config": config.to_argument()}, run_name(meta))
            serving = ModelStatus.model_validate((parent.get("status") or {}).get("model") or {}).built_with
            recorded["builtWith"] = built_with.for_run(config, serving)
        except RunnerUnavailableError as exc:
            return unavailable(current, status, exc, generation)
        except RunRejectedError as exc:
            return _failed(current, exc.reason, str(exc), generation)
    try:
        run = runner.status(run_id)
    except RunnerUnavailableError as exc:
        return unavailable(current, {**status, "kfpRunId": run_id}, exc, generation) | {
            "kfpRunId": run_id,
            **recorded,
        }
    result: dict[str, Any] = {
        **recorded,
        "observedGeneration": generation,
        "kfpRunId": run_id,
        "state": run.state,
        "conditions": [c.to_spec() for c in state_conditions(current, run, generation)],
        "stateHistory": [{"state": c.state, "time": _iso(c.time)} for c in run.history],
    }
    if run.failed_step:
        result["failedStep"] = run.failed_step
    if run.state == "SUCCEEDED":
        result.update(run_outputs(run))
    if run.history:
        result["startTime"] = _iso(run.history[0].time)
        if run.finished:
            result["completionTime"] = _iso(run.history[-1].time)
    return result


def run_outputs(run: RunStatus) -> dict[str, Any]:
    """Evaluation metrics, the data step's counts and the published version, from the pipeline's outputs."""
    out: dict[str, Any] = {}
    metrics = run.outputs.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("metadata"), dict):
        known = TrainingMetrics.model_fields
        values = {k: v for k, v in metrics["metadata"].items() if k in known}
        for count in ("queries", "first_trained_day", "last_trained_day", "trained_days", "eval_day"):
            if count in values:
                values[count] = int(values[count])
        out["metrics"] = TrainingMetrics.model_validate(values).to_spec()
    data = run.outputs.get("data")
    if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
        counts = {k: int(v) for k, v in data["metadata"].items() if k in DataSummary.model_fields}
        out["data"] = DataSummary.model_validate(counts).to_spec()
    version = run.outputs.get("version")
    if isinstance(version, (int, float)) and version > 0:  # 0: the incremental gate refused the run
        out["modelVersions"] = {ENSEMBLE: int(version)}
    return out


def adopted_owner_references(
    run: Mapping[str, Any], parent: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    """The run's ownerReferences with its RecommenderSystem added, or None when it is there already.

    A TrainingRun someone applied by hand is the recommender's as much as the ones it creates:
    owned, it goes with the recommender instead of lingering with its Job. Not a controller
    reference (the run may be controlled by something else, e.g. Argo CD's app).
    """
    refs = list((run.get("metadata") or {}).get("ownerReferences") or [])
    uid = parent["metadata"]["uid"]
    if any(ref.get("uid") == uid for ref in refs):
        return None
    return [
        *refs,
        {"apiVersion": API_VERSION, "kind": rs.KIND, "name": parent["metadata"]["name"], "uid": uid},
    ]


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
