"""Child process of `LocalRunner`: runs one pipeline with kfp.local and records its states.

Usage: python -m recsys_workloads.pipelines.local_run RUN_DIR PIPELINE
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from pathlib import Path

from recsys_workloads.contracts.runs import RunStatus
from recsys_workloads.pipelines.registry import pipeline_by_name
from recsys_workloads.pipelines.runner import STATE_FILE, write_state


def run(run_dir: Path, pipeline: str) -> int:
    from kfp import local

    status = write_state(
        run_dir, RunStatus.model_validate_json((run_dir / STATE_FILE).read_text()), "RUNNING"
    )
    arguments = json.loads((run_dir / "arguments.json").read_text())
    try:
        func = pipeline_by_name(pipeline)
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(run_dir / "artifacts"),
            raise_on_error=True,
        )
        task = func(**arguments)
        outputs = {name: _plain(value) for name, value in (task.outputs or {}).items()}
    except Exception as exc:  # the run's own failure: recorded, not raised to nobody
        traceback.print_exc()
        sys.stdout.flush()
        summary = _strip_ansi(f"{type(exc).__name__}: {exc}")
        cause = root_cause(run_dir / "run.log")
        failed = status.model_copy(update={"failed_step": failed_task(summary)})
        write_state(run_dir, failed, "FAILED", f"{summary} Cause: {cause}" if cause else summary)
        return 1
    done = status.model_copy(update={"outputs": outputs})
    write_state(run_dir, done, "SUCCEEDED")
    return 0


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_INNER_TASK = re.compile(r"Inner task failed: '([^']+)'")
_EXCEPTION_LINE = re.compile(r"^(\w+\.)*\w*(Error|Exception|Exit): .+")


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def failed_task(error: str) -> str | None:
    """The task kfp.local says failed (`... Inner task failed: 'train-dlrm'.`), if it names one."""
    match = _INNER_TASK.search(_strip_ansi(error))
    return match.group(1) if match else None


def root_cause(log: Path) -> str | None:
    """The last exception a step printed: kfp.local only says which task failed."""
    try:
        lines = _strip_ansi(log.read_text(errors="replace")).splitlines()
    except FileNotFoundError:
        return None
    causes = [
        ln.strip() for ln in lines if _EXCEPTION_LINE.match(ln.strip()) and "finished with status" not in ln
    ]
    return causes[-1] if causes else None


def _plain(value: object) -> object:
    """Artifacts become their paths/metadata; parameters stay as they are."""
    if hasattr(value, "path"):
        return {"path": value.path, "metadata": dict(getattr(value, "metadata", {}) or {})}
    return value


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.argv[2]))
