"""The single-node cluster layer: real pods on this machine's kubelet (`make test-cluster`).

The cluster is started by `make cluster` (scripts/cluster/), not by these fixtures: it is
shared state that outlives a test session, like a kind cluster. A missing cluster fails the
session with the command to run; nothing is skipped. Tests that take the cluster down and
up again (marked `restarts_cluster`) run first, before anything is installed into it.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from recsys_local.testbed.node import ClusterNotRunningError, NodeEnv, kubectl, node_env, require_running

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Cluster restarts first: later tests install the operator and expect it to stay."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_cluster") is None)


@pytest.fixture(scope="session")
def node() -> NodeEnv:
    env = node_env(REPO)
    try:
        require_running(env)
    except ClusterNotRunningError as exc:
        pytest.fail(str(exc), pytrace=False)
    return env


@pytest.fixture
def namespace(node: NodeEnv, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test; deleted (without waiting) afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{secrets.token_hex(3)}"
    kubectl(node, "create", "namespace", name)
    try:
        yield name
    finally:
        kubectl(node, "delete", "namespace", name, "--wait=false", check=False)


def diagnostics(node: NodeEnv, namespace: str | None = None) -> str:
    """What a failing cluster test needs to be understood: objects, events, recent pod logs."""
    where = ["-n", namespace] if namespace else ["-A"]
    parts = []
    for args in (
        ["get", "all,pvc", "-o", "wide", *where],
        ["get", "recsys,tr", "-o", "wide", *where],
        ["get", "events", "--sort-by=.lastTimestamp", *where],
    ):
        done = kubectl(node, *args, check=False)
        parts.append(f"$ kubectl {' '.join(args)}\n{done.stdout}{done.stderr}")
    if namespace:
        pods = kubectl(node, "get", "pods", "-n", namespace, "-o", "name", check=False).stdout.split()
        for pod in pods[:12]:
            logs = kubectl(node, "logs", "-n", namespace, pod, "--all-containers", "--tail=40", check=False)
            parts.append(f"$ kubectl logs {pod}\n{logs.stdout[-4000:]}{logs.stderr[-500:]}")
    return "\n".join(parts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    funcargs = getattr(item, "funcargs", {})
    env = funcargs.get("node")
    if call.when == "call" and report.failed and isinstance(env, NodeEnv):
        namespace = next(
            (v for k, v in funcargs.items() if k.endswith("namespace") and isinstance(v, str)), None
        )
        try:
            report.sections.append(("cluster", diagnostics(env, namespace)))
        except (OSError, subprocess.SubprocessError) as exc:
            report.sections.append(("cluster", f"no diagnostics: {exc}"))
    return report
