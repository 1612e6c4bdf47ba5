"""kopf handlers of TrainingRun: wiring only; logic lives in reconcilers/training_run.py."""

from __future__ import annotations

from typing import Any

import kopf

from recsys_operator.adapters.pipelines import runner_for
from recsys_operator.api import API_VERSION, GROUP, VERSION
from recsys_operator.api import recommender_system as rs
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.api.training_run import KIND, PLURAL
from recsys_operator.handlers.recommender_system import cluster
from recsys_operator.metrics import reconcile_timer
from recsys_operator.reconcilers.training_run import reconcile
from recsys_workloads.pipelines.runner import TERMINAL

RESOURCE = (GROUP, VERSION, PLURAL)
POLL_SECONDS = 10.0


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return status.get("state") not in TERMINAL


def _step(body: kopf.Body, patch: kopf.Patch, namespace: str | None) -> None:
    namespace = namespace or ""
    parent_name = (body.get("spec") or {}).get("recommenderRef", {}).get("name", "")
    parent = cluster().get(API_VERSION, rs.KIND, parent_name, namespace) if parent_name else None
    parent_spec = RecommenderSystemSpec.model_validate((parent or {}).get("spec") or {}) if parent else None
    runner = runner_for(parent_spec or RecommenderSystemSpec())
    before = (body.get("status") or {}).get("state")
    with reconcile_timer(KIND):
        status = reconcile(body, parent, runner)
    patch.status.update(status)
    if status.get("state") != before and status.get("state"):
        kind = "Warning" if status["state"] in ("FAILED", "CANCELED") else "Normal"
        kopf.event(
            body, type=kind, reason=f"Run{str(status['state']).title()}", message=str(status.get("kfpRunId"))
        )
    if status.get("state") == "SUCCEEDED" and before != "SUCCEEDED" and parent is not None:
        cluster().patch_status(
            API_VERSION,
            rs.KIND,
            parent_name,
            namespace,
            {"lastTrainingRun": body["metadata"]["name"], "lastTrainingTime": status.get("completionTime")},
        )


@kopf.on.resume(*RESOURCE, when=_unfinished)
@kopf.on.create(*RESOURCE)
def submit_run(body: kopf.Body, patch: kopf.Patch, namespace: str | None, **_: Any) -> None:
    _step(body, patch, namespace)


@kopf.timer(*RESOURCE, interval=POLL_SECONDS, initial_delay=POLL_SECONDS, when=_unfinished)
def poll_run(body: kopf.Body, patch: kopf.Patch, namespace: str | None, **_: Any) -> None:
    _step(body, patch, namespace)
