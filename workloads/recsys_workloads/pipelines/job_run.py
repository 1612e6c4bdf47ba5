"""A training Job's process (orchestrator `job`): one pipeline run with KFP's local runner, in this pod.

Usage: python -m recsys_workloads.pipelines.job_run PIPELINE
(arguments in $RECSYS_PIPELINE_ARGUMENTS, run id in $RECSYS_RUN_ID; pipelines/job.py)

It is `LocalRunner`, the runner local mode uses, with its log followed onto stdout (so
`kubectl logs job/<name>` shows every step) and its outcome written to the termination
message the operator reads. A SIGTERM (the Job deleted: the TrainingRun was) cancels the
pipeline's process group before the pod goes. Exit 0 only when the run succeeded.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import IO

from recsys_workloads.contracts.job import (
    ARGUMENTS_ENV,
    RUN_ID_ENV,
    TERMINATION_LOG,
    JobOutcome,
    slim_outputs,
)
from recsys_workloads.contracts.runs import RunStatus
from recsys_workloads.pipelines.runner import LocalRunner

NO_TIMEOUT_S = float("inf")  # the Job's activeDeadlineSeconds bounds the run


class LogFollower:
    """Copies what a growing log file gains onto a stream (the pod's stdout)."""

    def __init__(self, path: Path, out: IO[str]) -> None:
        self.path = path
        self.out = out
        self.offset = 0

    def pump(self) -> None:
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                chunk = log.read()
        except FileNotFoundError:
            return
        self.offset += len(chunk)
        if chunk:
            self.out.write(chunk.decode(errors="replace"))
            self.out.flush()


def outcome_of(status: RunStatus) -> JobOutcome:
    return JobOutcome(
        state="SUCCEEDED" if status.state == "SUCCEEDED" else "FAILED",
        error=None if status.state == "SUCCEEDED" else (status.error or status.state.lower()),
        failed_step=status.failed_step,
        outputs=slim_outputs(status.outputs),
    )


def run(pipeline: str, arguments: dict[str, object], run_id: str, root: Path, out: IO[str]) -> JobOutcome:
    runner = LocalRunner(root)
    runner.submit(pipeline, arguments, run_id)
    follower = LogFollower(runner.run_dir(run_id) / "run.log", out)

    def cancel(signum: int, frame: FrameType | None) -> None:
        out.write(f"[job_run] signal {signum}: canceling the pipeline\n")
        runner.cancel(run_id)
        follower.pump()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, cancel)
    status = runner.wait(run_id, NO_TIMEOUT_S, on_poll=lambda _: follower.pump())
    follower.pump()
    return outcome_of(status)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m recsys_workloads.pipelines.job_run PIPELINE", file=sys.stderr)
        return 2
    try:
        arguments = json.loads(os.environ[ARGUMENTS_ENV])
    except (KeyError, json.JSONDecodeError) as exc:
        outcome = JobOutcome(state="FAILED", error=f"${ARGUMENTS_ENV} is missing or not JSON: {exc}")
    else:
        root = Path(tempfile.gettempdir()) / "recsys-runs"
        outcome = run(argv[0], arguments, os.environ.get(RUN_ID_ENV) or "run", root, sys.stdout)
    message = outcome.to_message()
    print(f"[job_run] {outcome.state}: {message}", flush=True)
    try:
        TERMINATION_LOG.write_text(message)
    except OSError as exc:  # not in a pod (a test), or the kubelet gave no termination log
        print(f"[job_run] no termination message written: {exc}", file=sys.stderr)
    return 0 if outcome.state == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
