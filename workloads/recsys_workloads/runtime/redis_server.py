"""Debian's redis-server (or valkey-server) on a loopback port, for local mode and tests."""

from __future__ import annotations

import socket
from pathlib import Path

from recsys_workloads.runtime.ports import LOOPBACK, free_port
from recsys_workloads.runtime.process import ManagedProcess, Server


def redis_ping(port: int, host: str = LOOPBACK, timeout_s: float = 0.5) -> bool:
    """RESP PING over a raw socket: readiness without needing redis-py."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer(Server):
    """One redis-server process; `persistent` turns on the append-only file in `workdir`."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        port: int | None = None,
        persistent: bool = False,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.persistent = persistent
        argv = [
            str(binary),
            "--bind",
            LOOPBACK,
            "--port",
            str(self.port),
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "yes" if persistent else "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]
        self.process = ManagedProcess(
            f"redis-server:{self.port}",
            argv,
            workdir / "redis.log",
            cwd=workdir,
            ports=[self.port],
        )

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        self.process.wait_ready(lambda: redis_ping(self.port), timeout_s)
        return self

    def stop(self) -> int | None:
        return self.process.stop()
