"""kopf handlers of TrainingRun: wiring only; logic lives in reconcilers/training_run.py
(the run) and reconcilers/promotion.py (what its version means for serving)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import kopf
from pydantic import ValidationError

from recsys_operator import metrics
from recsys_operator.adapters.pipelines import runner_for
from recsys_operator.adapters.triton import TritonPods
from recsys_operator.api import API_VERSION, GROUP, VERSION
from recsys_operator.api import recommender_system as rs
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.api.training_run import KIND, PLURAL
from recsys_operator.handlers.recommender_system import cluster
from recsys_operator.manifests import api
from recsys_operator.manifests.common import Owner
from recsys_operator.metrics import reconcile_timer
from recsys_operator.reconcilers import promotion
from recsys_operator.reconcilers.training_run import adopted_owner_references, reconcile
from recsys_workloads.contracts.runs import TERMINAL
from recsys_workloads.contracts.serving import ENSEMBLE

RESOURCE = (GROUP, VERSION, PLURAL)
POLL_SECONDS = 10.0


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return status.get("state") not in TERMINAL


def _succeeded(status: kopf.Status, **_: Any) -> bool:
    return status.get("state") == "SUCCEEDED"


def _parent(body: Mapping[str, Any], namespace: str) -> dict[str, Any] | None:
    name = (body.get("spec") or {}).get("recommenderRef", {}).get("name", "")
    return cluster().get(API_VERSION, rs.KIND, name, namespace) if name else None


def _promote(body: Mapping[str, Any], status: Mapping[str, Any], parent: Mapping[str, Any]) -> None:
    """Record or roll out the run's version on the parent (a no-op when it is not new)."""
    meta = parent["metadata"]
    owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
    try:
        ensemble = api.ensemble(RecommenderSystemSpec.model_validate(parent.get("spec") or {}))
    except ValidationError:
        ensemble = ENSEMBLE
    event = promotion.promote(
        (body.get("spec") or {}).get("promote", "Auto"),
        status,
        parent,
        (status.get("modelVersions") or {}).get(ENSEMBLE),
        TritonPods.of(cluster(), owner, ensemble),
        lambda changes: cluster().patch_status(API_VERSION, rs.KIND, owner.name, owner.namespace, changes),
    )
    if event is not None:
        kopf.event(
            kopf.Body(cast(kopf.RawBody, parent)), type=event.type, reason=event.reason, message=event.message
        )


def _step(body: kopf.Body, patch: kopf.Patch, namespace: str | None) -> None:
    namespace = namespace or ""
    parent = _parent(body, namespace)
    parent_spec = RecommenderSystemSpec.model_validate((parent or {}).get("spec") or {}) if parent else None
    runner = runner_for(parent_spec or RecommenderSystemSpec(), cluster(), namespace, body)
    before = (body.get("status") or {}).get("state")
    with reconcile_timer(KIND):
        status = reconcile(body, parent, runner)
    patch.status.update(status)
    if parent is not None and (refs := adopted_owner_references(body, parent)) is not None:
        patch.metadata["ownerReferences"] = refs
    if status.get("state") != before and status.get("state"):
        kind = "Warning" if status["state"] in ("FAILED", "CANCELED") else "Normal"
        if status["state"] in TERMINAL and parent is not None:
            recommender = metrics.recommender_label(namespace, parent["metadata"]["name"])
            metrics.count_training_run(recommender, str(status["state"]))
        kopf.event(
            body, type=kind, reason=f"Run{str(status['state']).title()}", message=str(status.get("kfpRunId"))
        )
    if status.get("state") == "SUCCEEDED" and before != "SUCCEEDED" and parent is not None:
        cluster().patch_status(
            API_VERSION,
            rs.KIND,
            parent["metadata"]["name"],
            namespace,
            {"lastTrainingRun": body["metadata"]["name"], "lastTrainingTime": status.get("completionTime")},
        )
        _promote(body, status, parent)


@kopf.on.resume(*RESOURCE, when=_unfinished)
@kopf.on.create(*RESOURCE)
def submit_run(body: kopf.Body, patch: kopf.Patch, namespace: str | None, **_: Any) -> None:
    _step(body, patch, namespace)


@kopf.timer(*RESOURCE, interval=POLL_SECONDS, initial_delay=POLL_SECONDS, when=_unfinished)
def poll_run(body: kopf.Body, patch: kopf.Patch, namespace: str | None, **_: Any) -> None:
    _step(body, patch, namespace)


@kopf.on.resume(*RESOURCE, when=_succeeded)
def resume_promotion(body: kopf.Body, namespace: str | None, **_: Any) -> None:
    """An operator stopped between a run's success and its promotion promotes now (idempotent)."""
    parent = _parent(body, namespace or "")
    if parent is not None:
        _promote(body, body.get("status") or {}, parent)


@kopf.on.delete(*RESOURCE, when=_unfinished)
def cancel_in_flight(body: kopf.Body, namespace: str | None, logger: kopf.Logger, **_: Any) -> None:
    """A deleted run stops its pipeline (a KFP run outlives its object otherwise).

    Never blocks the deletion: the parent may already be gone (Argo CD deletes in any
    order), then the default runner is used; a failure is logged and the finalizer released.
    """
    run_id = (body.get("status") or {}).get("kfpRunId")
    if not run_id:
        return
    try:
        parent = _parent(body, namespace or "")
        spec = RecommenderSystemSpec.model_validate((parent or {}).get("spec") or {})
        runner_for(spec, cluster(), namespace or "", body).cancel(str(run_id))
        logger.info(f"canceled pipeline run {run_id}")
    except Exception as exc:  # see docstring: never block deletion
        logger.warning(f"pipeline run {run_id} may still be running: {exc}")
