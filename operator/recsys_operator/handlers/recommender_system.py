"""kopf handlers of RecommenderSystem: wiring only; logic lives in reconcilers/."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import kopf

from recsys_operator import metrics
from recsys_operator.adapters.kube import KubernetesCluster
from recsys_operator.api import GROUP, VERSION
from recsys_operator.api.recommender_system import EXPERIMENT_CONCLUDED, KIND, PLURAL, READY
from recsys_operator.metrics import reconcile_timer
from recsys_operator.reconcilers.recommender_system import reconcile, release
from recsys_operator.reconcilers.schedule import schedule_incremental

RESOURCE = (GROUP, VERSION, PLURAL)
REFRESH_SECONDS = 30.0
SCHEDULE_SECONDS = 60.0


@cache
def cluster() -> KubernetesCluster:
    return KubernetesCluster()


def _ready(conditions: list[dict[str, Any]]) -> tuple[str | None, str, str]:
    found = next((c for c in conditions if c.get("type") == READY), {})
    return found.get("status"), found.get("reason", ""), found.get("message", "")


def _experiment_condition(conditions: list[dict[str, Any]]) -> tuple[str | None, str, str]:
    found = next((c for c in conditions if c.get("type") == EXPERIMENT_CONCLUDED), {})
    return found.get("status"), found.get("reason", ""), found.get("message", "")


def _write(body: kopf.Body, patch: kopf.Patch) -> None:
    before = _ready(list((body.get("status") or {}).get("conditions") or []))
    with reconcile_timer(KIND):
        status = reconcile(body, cluster())
    after = _ready(status["conditions"])
    patch.status.update(status)
    model = (body.get("status") or {}).get("model") or {}
    recommender = metrics.recommender_label(body["metadata"]["namespace"], body["metadata"]["name"])
    metrics.set_model_versions(recommender, model.get("currentVersion"), model.get("latestVersion"))
    experiment = status.get("experiment") or {}
    for arm in experiment.get("arms") or []:
        metrics.set_arm_counts(
            recommender,
            experiment["name"],
            arm["name"],
            int(arm.get("homepages") or 0),
            arm.get("attributed") or {},
        )
    before_experiment = _experiment_condition(list((body.get("status") or {}).get("conditions") or []))
    after_experiment = _experiment_condition(status["conditions"])
    if after_experiment[:2] != before_experiment[:2] and after_experiment[0] is not None:
        kind = "Warning" if after_experiment[1] in ("ArmNotServable", "GuardrailBreached") else "Normal"
        kopf.event(body, type=kind, reason=after_experiment[1] or "Experiment", message=after_experiment[2])
    if after[:2] != before[:2]:
        kind = "Normal" if after[0] == "True" else "Warning"
        kopf.event(body, type=kind, reason=after[1] or "Reconciled", message=f"Ready={after[0]}: {after[2]}")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
def reconcile_spec(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _write(body, patch)


@kopf.timer(*RESOURCE, interval=REFRESH_SECONDS, initial_delay=REFRESH_SECONDS, idle=REFRESH_SECONDS)
def refresh_status(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Children change without spec changes (pods become ready): observe them periodically."""
    _write(body, patch)


@kopf.timer(*RESOURCE, interval=SCHEDULE_SECONDS, initial_delay=SCHEDULE_SECONDS)
def schedule_training(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Incremental TrainingRuns on spec.training.incrementalSchedule (cron, UTC)."""
    with reconcile_timer("Schedule"):
        changes = schedule_incremental(body, cluster(), dt.datetime.now(dt.UTC))
    if changes:
        patch.status.update(changes)
        kopf.event(body, type="Normal", reason="IncrementalScheduled", message=changes["lastTrainingRun"])


@kopf.on.delete(*RESOURCE)
def release_external(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    """Cluster-scoped and external state has no owner reference: remove it, never block on it.

    Argo CD may delete the CRD's namespace or the operator in any order; a failure here is
    logged and the finalizer is released, because a stuck deletion is worse than a leftover.
    """
    metrics.forget_recommender(
        metrics.recommender_label(body["metadata"]["namespace"], body["metadata"]["name"])
    )
    try:
        for what, outcome in release(body, cluster()):
            logger.info(f"released {what}: {outcome}")
    except Exception as exc:  # see docstring: never block deletion
        logger.warning(f"leaving external state behind: {exc}")
