"""Detached servers of local mode: started through the workloads' launchers, found again by pid.

`recsys local up` exits while redis-server, tritonserver, the event service and the API
keep running in their own process groups; later commands find them through their
`ProcessRecord` and check the pid still runs the same executable before signalling it.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from recsys_local.mode.state import ProcessRecord
from recsys_workloads.runtime.process import ManagedProcess, pid_alive, signal_group
from recsys_workloads.runtime.redis_server import redis_ping

Probe = Callable[[ProcessRecord], bool]


def _executable(pid: int) -> str | None:
    """The binary a pid runs (redis-server rewrites its cmdline, so argv cannot tell)."""
    try:
        return str(Path(f"/proc/{pid}/exe").resolve(strict=True))
    except OSError:
        return None


def is_running(record: ProcessRecord) -> bool:
    """The recorded pid is alive and still runs the recorded executable (pids get reused)."""
    if not pid_alive(record.pid):
        return False
    return _executable(record.pid) == os.path.realpath(shutil.which(record.executable) or record.executable)


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def healthy(record: ProcessRecord) -> bool:
    """Running and answering: PING for Valkey/Redis, the HTTP health route for the others."""
    if not is_running(record):
        return False
    if record.url.startswith("redis://"):
        return redis_ping(record.ports["redis"])
    return http_ok(record.url.rstrip("/") + health_path(record.name))


def health_path(name: str) -> str:
    return "/v2/health/ready" if name == "triton" else "/healthz"


def record_of(
    name: str, process: ManagedProcess, ports: dict[str, int], url: str, config_hash: str = ""
) -> ProcessRecord:
    assert process.pid is not None, f"{name} was not started"
    return ProcessRecord(
        name=name,
        pid=process.pid,
        executable=process.argv[0],
        ports=ports,
        url=url,
        log=str(process.log_path),
        config_hash=config_hash,
    )


def stop(record: ProcessRecord, grace_s: float = 30.0) -> bool:
    """SIGTERM the server's process group, SIGKILL after `grace_s`; False if it was not running."""
    if not is_running(record):
        return False
    signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(record.pid):
            break
        time.sleep(0.1)
    signal_group(record.pid, signal.SIGKILL)  # the leader's children (Triton's Python stubs) too
    return True
