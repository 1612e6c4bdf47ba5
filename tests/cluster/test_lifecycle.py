"""`make cluster-down` leaves nothing behind; `make cluster` refuses what it cannot start on.

Runs first in the layer (restarts_cluster): it takes the cluster down and brings it back.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from recsys_local.testbed.node import NodeEnv, require_running

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "cluster"
# Processes only the cluster runs (by executable name); dockerd is ours too (own socket).
PROCESSES = (
    "kube-apiserver",
    "kube-controller",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "etcd",
    "dnsmasq",
)


def _script(name: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / name)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _running(names: tuple[str, ...]) -> list[str]:
    done = subprocess.run(["ps", "-eo", "comm="], capture_output=True, text=True, check=True)
    return sorted({c for c in done.stdout.split() if c.startswith(names)})


def _leftover_rules(tag: str) -> list[str]:
    rules = []
    for command in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            done = subprocess.run([command, "-t", table, "-S"], capture_output=True, text=True, check=False)
            rules += [r for r in done.stdout.splitlines() if "KUBE-" in r or "CNI-" in r or tag in r]
    return rules


@pytest.mark.restarts_cluster
def test_down_leaves_nothing_behind_and_up_refuses_what_it_cannot_start_on(node: NodeEnv) -> None:
    down = _script("down.sh")
    assert down.returncode == 0, down.stderr
    assert _running(PROCESSES) == []
    assert not Path(node.docker_host.removeprefix("unix://")).exists()
    assert (
        subprocess.run(["ip", "link", "show", node.bridge], capture_output=True, check=False).returncode != 0
    )
    assert _leftover_rules(node.iptables_tag) == []
    assert not node.state_dir.exists()

    # A stale cluster (state left by a run that was never taken down) is named, with the way out.
    (node.state_dir / "etcd").mkdir(parents=True)
    stale = _script("up.sh")
    assert stale.returncode != 0
    assert "earlier run" in stale.stderr and "make cluster-down" in stale.stderr
    _script("down.sh")

    # A port the cluster needs, held by someone else.
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 12379))
        squatter.listen()
        busy = _script("up.sh")
    assert busy.returncode != 0
    assert "port 12379" in busy.stderr and f"pid={os.getpid()}" in busy.stderr

    short = _script("up.sh", {"RECSYS_CLUSTER_MIN_FREE_GB": "1000000"})
    assert short.returncode != 0 and "GB free" in short.stderr

    # Refusals start nothing and leave nothing.
    assert _running(PROCESSES) == [] and _leftover_rules(node.iptables_tag) == []

    up = _script("up.sh")
    assert up.returncode == 0, up.stdout + up.stderr
    require_running(node)
    again = _script("up.sh")
    assert again.returncode == 0 and "already running" in again.stdout
