"""uvicorn in a background thread on a loopback port: a real server for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from recsys_workloads.runtime.ports import LOOPBACK, free_port


class ThreadedServer:
    """Starts on `start()` (returns once the lifespan ran), stops gracefully (lifespan shutdown) on `stop()`."""

    def __init__(self, app: FastAPI, port: int | None = None, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self.server.run, name=f"uvicorn:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"event service on port {self.port} exited during start-up")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"event service on port {self.port} not started in {timeout_s} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 20.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout_s)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
