"""What `recsys local` remembers between commands: one JSON file per system, written atomically.

Commands exit while the servers they started keep running, so the process table (pids,
ports, URLs), the objects the reconcile applied and the statuses it computed live here.
A lock file keeps two mutating commands (`up`, `train`, `down`) from interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

STATE_FILE = "state.json"
LOCK_FILE = "local.lock"
NAMESPACE = "local"


class LocalStateError(RuntimeError):
    """The state folder is unusable (corrupt file, another command holds the lock)."""


class ProcessRecord(BaseModel):
    """One detached server: enough to find it again and to tell it from a reused pid."""

    name: str
    pid: int
    executable: str = Field(description="argv[0]; a pid whose cmdline starts otherwise is not ours")
    ports: dict[str, int] = Field(default_factory=dict)
    url: str
    log: str
    config_hash: str = Field("", description="of the configuration it was started with: a change restarts it")


class LocalState(BaseModel):
    name: str
    namespace: str = NAMESPACE
    uid: str = Field(default_factory=lambda: str(uuid.uuid4()))
    generation: int = 1
    spec: dict[str, Any] = Field(description="the effective spec: the file's, plus local-mode defaults")
    status: dict[str, Any] = Field(default_factory=dict, description="RecommenderSystem .status")
    objects: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="what the reconcile applied, by apiVersion/kind/namespace/name"
    )
    processes: dict[str, ProcessRecord] = Field(default_factory=dict)
    ports: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="last ports per component: reused when free, so URLs stay"
    )
    online_warmed: bool = False

    def body(self) -> dict[str, Any]:
        """The RecommenderSystem as kopf would hand it to the reconcile."""
        return {
            "apiVersion": "recsys.io/v1alpha1",
            "kind": "RecommenderSystem",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "uid": self.uid,
                "generation": self.generation,
            },
            "spec": self.spec,
            "status": self.status,
        }


def load(workdir: Path) -> LocalState | None:
    path = workdir / STATE_FILE
    if not path.exists():
        return None
    try:
        return LocalState.model_validate_json(path.read_text())
    except ValueError as exc:
        raise LocalStateError(
            f"{path} is not a local-mode state file ({exc}); move it away to start over"
        ) from exc


def save(workdir: Path, state: LocalState) -> None:
    """Write to a temporary file, fsync, rename: a crash leaves the old or the new state, never half."""
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = workdir / f".{STATE_FILE}.{os.getpid()}"
    with tmp.open("w") as out:
        out.write(json.dumps(state.model_dump(mode="json"), indent=2))
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(workdir / STATE_FILE)


@contextlib.contextmanager
def locked(workdir: Path) -> Iterator[None]:
    """Hold the system's lock, or fail at once naming the holder."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LocalStateError(
                f"another recsys local command is running on {workdir} (pid {holder})"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
