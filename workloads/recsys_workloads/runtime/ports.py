"""Free loopback ports for servers started by local mode and tests."""

from __future__ import annotations

import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def free_ports(count: int = 1, host: str = LOOPBACK) -> list[int]:
    """Ports the kernel reports free right now.

    All sockets stay open until every port is chosen, so one call never returns the
    same port twice (a server asking for three ports gets three distinct ones).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
    return ports


def free_port(host: str = LOOPBACK) -> int:
    return free_ports(1, host)[0]


def port_is_open(port: int, host: str = LOOPBACK, timeout_s: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
