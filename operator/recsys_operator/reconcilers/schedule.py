"""Create the incremental TrainingRun a recommender's schedule asks for, one at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from recsys_operator.adapters.kube import Cluster
from recsys_operator.api import API_VERSION
from recsys_operator.api import training_run as tr
from recsys_operator.manifests import training
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers.recommender_system import spec_problems
from recsys_operator.schedule import due_slot, run_name
from recsys_workloads.contracts.runs import TERMINAL


def _parse(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def run_in_flight(cluster: Cluster, namespace: str, status: Mapping[str, Any]) -> bool:
    name = status.get("lastTrainingRun")
    if not name:
        return False
    run = cluster.get(API_VERSION, tr.KIND, str(name), namespace)
    return run is not None and (run.get("status") or {}).get("state") not in TERMINAL


def schedule_incremental(body: Mapping[str, Any], cluster: Cluster, now: dt.datetime) -> dict[str, Any]:
    """Status fields to patch (empty when nothing is due)."""
    meta = body["metadata"]
    status = body.get("status") or {}
    spec, problems = spec_problems(body.get("spec") or {})
    schedule = spec.training.incremental_schedule if spec else None
    has_model = (status.get("model") or {}).get("currentVersion") is not None
    if spec is None or problems or spec.suspend or not schedule or not has_model:
        return {}
    created = _parse(meta.get("creationTimestamp")) or now
    slot = due_slot(schedule, _parse(status.get("lastScheduleTime")), created, now)
    if slot is None or run_in_flight(cluster, meta["namespace"], status):
        return {}
    owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
    name = run_name(meta["name"], slot)
    cluster.apply(training.training_run(owner, name, "Incremental"))
    return {"lastScheduleTime": slot.isoformat().replace("+00:00", "Z"), "lastTrainingRun": name}
