"""Polling for things that happen asynchronously (an operator acting, a pod starting)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(what: str, probe: Callable[[], Any], timeout_s: float = 60.0, interval_s: float = 0.3) -> Any:
    """Poll `probe` until it returns something truthy; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
