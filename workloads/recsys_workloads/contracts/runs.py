"""A pipeline run as the operator sees it, whichever runner (KFP, local, one Job) executes it."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Protocol

from pydantic import BaseModel, Field

RunState = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELING", "CANCELED"]


TERMINAL: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


class RunnerUnavailableError(RuntimeError):
    """The orchestrator cannot take or report a run now; the run waits and its status says why.

    `reason` is a condition reason (CamelCase), the message names what was tried.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RunRejectedError(RuntimeError):
    """The orchestrator refused the run itself (an invalid Job, a forbidden namespace): retrying the
    same submission fails the same way, so the run fails with `reason` and the server's message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class StateChange(BaseModel):
    state: RunState
    time: dt.datetime


class RunStatus(BaseModel):
    """What a runner knows about one run (mirrored into TrainingRun.status)."""

    run_id: str
    pipeline: str
    state: RunState
    history: list[StateChange] = Field(default_factory=list)
    error: str | None = None
    failed_step: str | None = None  # the pipeline task that failed (kfp.local names it)
    message: str | None = None  # why a run that is not finished does not progress (a pod's problem)
    outputs: dict[str, object] = Field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL


class PipelineRunner(Protocol):
    """Raises RunnerUnavailableError (the run waits) or, from `submit`, RunRejectedError (it fails)."""

    def submit(self, pipeline: str, arguments: dict[str, object], run_name: str) -> str: ...

    def status(self, run_id: str) -> RunStatus: ...

    def cancel(self, run_id: str) -> None: ...
