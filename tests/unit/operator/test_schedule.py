"""Incremental runs on a cron schedule: one per slot, one catch-up, never two at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from recsys_operator.manifests.common import Manifest
from recsys_operator.reconcilers.recommender_system import spec_problems
from recsys_operator.reconcilers.schedule import schedule_incremental
from recsys_operator.schedule import due_slot, run_name

UTC = dt.UTC
CREATED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_nothing_is_due_before_the_first_slot_after_creation() -> None:
    assert due_slot("0 3 * * *", None, CREATED, at(21, 2, 59)) is None


def test_the_first_slot_after_creation_is_due_once() -> None:
    slot = due_slot("0 3 * * *", None, CREATED, at(21, 3, 1))
    assert slot == at(21, 3)
    assert due_slot("0 3 * * *", slot, CREATED, at(21, 9)) is None


def test_after_downtime_only_the_latest_missed_slot_runs() -> None:
    assert due_slot("0 3 * * *", at(21, 3), CREATED, at(24, 10)) == at(24, 3)


def test_run_names_are_deterministic_per_slot() -> None:
    assert run_name("homepage", at(21, 3)) == "homepage-incr-202611210300"


def test_an_invalid_cron_expression_is_an_invalid_spec() -> None:
    _, problems = spec_problems({"training": {"incrementalSchedule": "every day"}})
    assert problems == ["spec.training.incrementalSchedule: 'every day' is not a cron expression"]


class Cluster:
    def __init__(self, runs: dict[str, str] | None = None) -> None:
        self.applied: list[Manifest] = []
        self.runs = runs or {}

    def apply(self, manifest: Manifest) -> Manifest:
        self.applied.append(manifest)
        return manifest

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None:
        return {"status": {"state": self.runs[name]}} if name in self.runs else None

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
        """Like the real cluster: False when the run was already gone."""
        return self.runs.pop(name, None) is not None


def _body(status: dict[str, Any], spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "homepage",
            "namespace": "shop",
            "uid": "u",
            "creationTimestamp": "2026-11-20T12:00:00Z",
        },
        "spec": spec or {},
        "status": status,
    }


def test_a_due_slot_creates_an_owned_incremental_run_and_records_it() -> None:
    cluster = Cluster({"homepage-initial": "SUCCEEDED"})
    status = {"model": {"currentVersion": 1}, "lastTrainingRun": "homepage-initial"}
    changes = schedule_incremental(_body(status), cluster, at(21, 3, 5))
    assert changes == {
        "lastScheduleTime": "2026-11-21T03:00:00Z",
        "lastTrainingRun": "homepage-incr-202611210300",
    }
    (run,) = cluster.applied
    assert run["spec"]["type"] == "Incremental"
    assert run["metadata"]["ownerReferences"][0]["name"] == "homepage"


def test_no_run_while_another_is_in_flight() -> None:
    cluster = Cluster({"homepage-initial": "RUNNING"})
    status = {"model": {"currentVersion": 1}, "lastTrainingRun": "homepage-initial"}
    assert schedule_incremental(_body(status), cluster, at(21, 3, 5)) == {}
    assert cluster.applied == []


def test_no_incremental_run_before_a_model_serves_or_when_suspended() -> None:
    cluster = Cluster()
    assert schedule_incremental(_body({}), cluster, at(21, 3, 5)) == {}
    serving = {"model": {"currentVersion": 1}}
    assert schedule_incremental(_body(serving, {"suspend": True}), cluster, at(21, 3, 5)) == {}
    assert (
        schedule_incremental(
            _body(serving, {"training": {"incrementalSchedule": None}}), cluster, at(21, 3, 5)
        )
        == {}
    )
    assert cluster.applied == []
