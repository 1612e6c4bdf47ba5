"""The launcher's process handling: failures carry the server's log, stop leaves nothing behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from recsys_local.testbed.kube_apiserver import KubeApiServer, KubeBinaries
from recsys_workloads.runtime.process import ServerStartError


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_a_server_that_dies_at_start_fails_with_its_log_tail(tmp_path: Path) -> None:
    binaries = KubeBinaries(
        etcd=_script(
            tmp_path / "etcd", 'echo "E1122 18:00:00.000000 1 main.go:1] boom: data dir locked"; exit 3'
        ),
        kube_apiserver=_script(tmp_path / "kube-apiserver", "sleep 60"),
        kube_controller_manager=_script(tmp_path / "kube-controller-manager", "sleep 60"),
    )
    server = KubeApiServer(tmp_path / "state", binaries)
    with pytest.raises(ServerStartError, match=r"exited with code 3") as caught:
        server.start(timeout_s=10)
    assert "boom: data dir locked" in str(caught.value)
    assert not server.apiserver.running()


def test_stop_ends_every_server_process_and_its_children(tmp_path: Path) -> None:
    """Stop goes by process group: a child a server forked must not outlive the test session."""
    forks = 'sleep 300 & echo $! > "$0.child"; wait'
    binaries = KubeBinaries(
        etcd=_script(tmp_path / "etcd", forks),
        kube_apiserver=_script(tmp_path / "kube-apiserver", forks),
        kube_controller_manager=_script(tmp_path / "kube-controller-manager", forks),
    )
    server = KubeApiServer(tmp_path / "state", binaries)
    for process in server.processes():  # started without readiness: the fakes serve nothing
        process.start()
    deadline = time.monotonic() + 10
    children = [tmp_path / f"{name}.child" for name in ("etcd", "kube-apiserver", "kube-controller-manager")]
    while not all(c.exists() and c.read_text().strip() for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [p.pid for p in server.processes()] + [int(c.read_text()) for c in children]
    server.stop()
    assert all(not p.running() for p in server.processes())
    time.sleep(0.2)  # the orphaned children are reaped by init, not by us
    alive = [pid for pid in pids if pid is not None and _alive(pid)]
    assert alive == [], f"still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its parent counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"
