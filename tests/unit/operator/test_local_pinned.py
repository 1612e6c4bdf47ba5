"""Local mode serves pinned versions beside the current one: what it renders, loads and records.

The running Triton is a stand-in (`sync_pinned` itself runs against a real one in
tests/integration/serving/test_pinned_versions.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from rich.console import Console

from recsys_local.mode.state import LocalState, ProcessRecord
from recsys_local.mode.system import LocalModeError, LocalSystem
from recsys_workloads.serving.triton import rollout
from tests.conftest import version_stub


def _record(name: str, url: str) -> ProcessRecord:
    return ProcessRecord(name=name, pid=1, executable=name, url=url, log="")


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalSystem:
    for number in (1, 2, 3):
        version_stub(tmp_path / "models" / str(number))
    local = LocalSystem(tmp_path / "work", Console(quiet=True))
    monkeypatch.setattr(local, "version_dir", lambda state, n: tmp_path / "models" / str(n))
    return local


def _state(triton: bool) -> LocalState:
    processes = {"redis": _record("redis", "redis://127.0.0.1:1/0")}
    if triton:
        processes["triton"] = _record("triton", "http://127.0.0.1:2")
    return LocalState(
        name="homepage",
        spec={"serving": {"graph": "fused"}},
        status={"model": {"currentVersion": 1}},
        processes=processes,
    )


def test_pinned_versions_are_rendered_loaded_live_and_recorded_for_a_restart(
    system: LocalSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, list[str]]] = []

    def sync(url: str, ensembles: Sequence[str]) -> rollout.PinnedSync:
        asked.append((url, list(ensembles)))
        served = [e for e in ensembles if e != "homepage_fused__v3"]
        return rollout.PinnedSync(
            served, ["homepage_fused__v3: canary: no items"] if len(served) < len(ensembles) else []
        )

    monkeypatch.setattr(rollout, "sync_pinned_triton", sync)
    repository = system.workdir / "serving" / "repository"
    assert system._serve_pinned(_state(True), [2]) == [2]
    assert asked == [("127.0.0.1:2", ["homepage_fused__v2"])]
    assert {"homepage_fused", "homepage_fused__v2"} <= {p.name for p in repository.iterdir()}
    with pytest.raises(LocalModeError, match="homepage_fused__v3: canary: no items"):
        system._serve_pinned(_state(True), [3, 2])
    assert asked[-1][1] == ["homepage_fused__v2", "homepage_fused__v3"]
    assert system.pinned_versions() == [2]  # what serves, so a restarted Triton loads the same
    names = {p.name for p in repository.iterdir()}
    assert "homepage_fused__v2" in names and "homepage_fused__v3" not in names
    assert system._serve_pinned(_state(True), []) == []
    assert not [p.name for p in repository.iterdir() if "__v" in p.name]


def test_without_a_running_triton_pinned_versions_are_only_recorded(system: LocalSystem) -> None:
    assert system._serve_pinned(_state(False), [3, 2, 3]) == [2, 3]
    assert system.pinned_versions() == [2, 3]
    assert not (system.workdir / "serving" / "repository").exists()  # Triton renders them when it starts


def test_a_version_not_on_the_model_volume_is_refused_and_nothing_changes(system: LocalSystem) -> None:
    with pytest.raises(LocalModeError, match=r"no such model versions: \[.*models/9'\]"):
        system._serve_pinned(_state(True), [2, 9])
    assert system.pinned_versions() == []
