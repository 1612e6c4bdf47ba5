"""A supervised server process: started in its own session, readiness-polled, stopped by PID.

Every launcher in local mode (Triton, Redis) goes through this one class, so that
start-up failures report the server's own log and no process outlives its owner.
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from recsys_workloads.runtime.ports import LOOPBACK, port_is_open


class ServerStartError(RuntimeError):
    """A server exited or did not become ready; the message carries its log tail."""


class Server(abc.ABC):
    """A started-and-stopped server usable as `with Server(...) as s:` (stopped on exit)."""

    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> object: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ManagedProcess:
    """One child process with a log file, a readiness probe and a clean stop."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ports: Sequence[int] = (),
        error_line: re.Pattern[str] | None = None,
    ) -> None:
        self.name = name
        self.error_line = error_line
        self.ports = tuple(ports)
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running():
            raise ServerStartError(f"{self.name} is already running (pid {self.pid})")
        # A readiness probe cannot tell our server from another one on the same port.
        busy = [port for port in self.ports if port_is_open(port)]
        if busy:
            raise ServerStartError(f"{self.name}: port(s) {busy} on {LOOPBACK} already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.env,
                    cwd=self.cwd,
                    start_new_session=True,  # own process group: stop() reaches its children
                )
            except OSError as exc:
                raise ServerStartError(f"{self.name}: cannot execute {self.argv[0]}: {exc}") from exc

    def wait_ready(self, probe: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> None:
        """Poll `probe` until it is true; fail early if the process dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                code = self._proc.returncode if self._proc else None
                raise ServerStartError(
                    f"{self.name} exited with code {code} before it was ready.\n{self.log_tail()}"
                )
            if probe():
                return
            time.sleep(interval_s)
        self.stop()
        raise ServerStartError(f"{self.name} was not ready after {timeout_s:.0f} s.\n{self.log_tail()}")

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM the process group, SIGKILL after `grace_s`; returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace_s)
        else:
            # The leader is gone; make sure nothing it forked (e.g. Python-backend stubs) stays.
            signal_group(proc.pid, signal.SIGKILL)
        return proc.returncode

    def log_tail(self, lines: int = 15) -> str:
        """The log's end, preceded by its error lines (a server's banner can bury them)."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        errors = [line for line in text if self.error_line and self.error_line.search(line)][:10]
        parts = []
        if errors:
            parts.append("--- errors logged ---\n" + "\n".join(line[:2000] for line in errors))
        tail = text[-lines:]
        parts.append(f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal a server and everything it started (its own session), if still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
