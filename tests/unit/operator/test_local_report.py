"""Local mode gives the API a link to the current version's evaluation report: a promotion re-points
it, and the API (which reads it per request) shows the new version without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from recsys_local.mode.state import LocalState
from recsys_local.mode.system import LocalSystem
from recsys_workloads.evaluation.report import write_report
from recsys_workloads.models import artifacts
from recsys_workloads.serving.api.app import read_report


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalSystem:
    for number, recall in ((1, 0.2), (2, 0.3)):
        row = {"method": "two_tower", "segment": "all", "queries": 10, "recall@10": recall}
        write_report(tmp_path / "models" / str(number) / artifacts.EVALUATION_DIR, [row], {"auc": 0.7})
    local = LocalSystem(tmp_path / "work", Console(quiet=True))
    monkeypatch.setattr(local, "version_dir", lambda state, n: tmp_path / "models" / str(n))
    return local


def _recall(system: LocalSystem, state: LocalState) -> tuple[int | None, float | None]:
    answer = read_report(system._link_report(state))
    assert answer.available, answer.detail
    return answer.version, answer.groups[0].bars[0].value


def test_the_link_follows_the_current_version(system: LocalSystem) -> None:
    state = LocalState(name="homepage", spec={}, status={"model": {"currentVersion": 1}})
    link = system._link_report(state)
    assert link == system.workdir / "api" / "report.json" and link.is_symlink()
    assert _recall(system, state) == (1, 0.2)
    state.status["model"]["currentVersion"] = 2  # promoted
    assert _recall(system, state) == (2, 0.3)
    assert system._link_report(state) == link  # the API's config does not change


def test_before_any_version_the_report_is_unavailable(system: LocalSystem) -> None:
    state = LocalState(name="homepage", spec={}, status={})
    answer = read_report(system._link_report(state))
    assert not answer.available and answer.groups == []
