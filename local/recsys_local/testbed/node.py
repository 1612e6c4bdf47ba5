"""The single-node test cluster (`scripts/cluster/`, `make cluster`) as Python code sees it.

The scripts own every location (`scripts/cluster/common.sh`); `env.sh` prints them and this
module reads them, so the tests, `recsys cluster` and the shell agree without a second copy.
Operator code must not import this module.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

SCRIPTS = Path("scripts") / "cluster"
UP_HINT = "make cluster (or recsys cluster up)"


class ClusterNotRunningError(RuntimeError):
    """No cluster answers; the message says how to start one."""


class NodeEnv(BaseModel):
    """Where the cluster's pieces live on this machine (KEY=VALUE lines of `env.sh`)."""

    model_config = ConfigDict(frozen=True)

    kubeconfig: Path
    kube_bin: Path
    cluster_dir: Path
    state_dir: Path
    logs_dir: Path
    volumes_dir: Path
    docker_host: str
    docker_cli: Path
    node_name: str
    node_ip: str
    bridge: str
    iptables_tag: str
    base_image: str
    valkey_image: str

    @property
    def kubectl_path(self) -> Path:
        """kubectl 1.20 from the same build: no version skew against the 1.20 server."""
        return self.kube_bin / "kubectl"


def scripts_dir(root: Path) -> Path:
    folder = root / SCRIPTS
    if not (folder / "up.sh").is_file():
        raise FileNotFoundError(f"{folder} has no up.sh: the test cluster needs a source checkout")
    return folder


def node_env(root: Path) -> NodeEnv:
    done = subprocess.run(
        ["bash", str(scripts_dir(root) / "env.sh")], capture_output=True, text=True, check=True
    )
    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return NodeEnv.model_validate({key.lower(): value for key, value in values.items()})


def kubectl(
    env: NodeEnv, *args: str, check: bool = True, input: str | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """kubectl with the cluster's admin kubeconfig only (never the user's current context).

    A failure with `check` raises KubectlError, whose message carries kubectl's own stderr.
    """
    done = subprocess.run(
        [str(env.kubectl_path), "--kubeconfig", str(env.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=False,
        input=input,
        timeout=timeout,
    )
    if check and done.returncode:
        raise KubectlError(done.returncode, done.args, done.stdout, done.stderr)
    return done


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"kubectl {' '.join(str(a) for a in self.cmd[3:])} exited {self.returncode}: {self.stderr.strip()}"


def kubectl_json(env: NodeEnv, *args: str) -> Any:
    return json.loads(kubectl(env, *args, "-o", "json").stdout)


def require_running(env: NodeEnv) -> None:
    """The API server answers and the node is Ready, or ClusterNotRunningError with the way out."""
    if not env.kubeconfig.is_file():
        raise ClusterNotRunningError(f"no test cluster ({env.kubeconfig} does not exist): run {UP_HINT}")
    try:
        node = kubectl_json(env, "get", "node", env.node_name)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else "timed out"
        raise ClusterNotRunningError(f"the test cluster does not answer ({detail}): run {UP_HINT}") from exc
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    if not ready or ready[0]["status"] != "True":
        raise ClusterNotRunningError(f"node {env.node_name} is not Ready: see {env.logs_dir}/kubelet.log")


@contextlib.contextmanager
def port_forward(
    env: NodeEnv, namespace: str, target: str, port: int, timeout_s: float = 30.0
) -> Iterator[int]:
    """`kubectl port-forward` of `target` (svc/x, pod/y) on 127.0.0.1: the local port, once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = int(probe.getsockname()[1])
    forward = subprocess.Popen(
        [
            str(env.kubectl_path),
            "--kubeconfig",
            str(env.kubeconfig),
            "port-forward",
            "-n",
            namespace,
            "--address",
            "127.0.0.1",
            target,
            f"{local}:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", local), timeout=1).close()
                break
            except OSError:
                if forward.poll() is not None or time.monotonic() > deadline:
                    output = forward.stdout.read() if forward.stdout else ""
                    raise RuntimeError(
                        f"port-forward {namespace}/{target}:{port} did not open: {output}"
                    ) from None
                time.sleep(0.2)
        yield local
    finally:
        forward.terminate()
        try:
            forward.wait(10)
        except subprocess.TimeoutExpired:
            forward.kill()
