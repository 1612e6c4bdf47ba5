"""The logic behind the training components, as plain functions (components only wire).

Kept free of TensorFlow at import time: the operator imports `resources` through the
pipeline modules, and the export step imports Keras only when it runs.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from recsys_workloads.pipelines.config import GPU_RESOURCE, PipelineConfig

if TYPE_CHECKING:
    from recsys_workloads.models.export import Format

TIMING_PREFIX: Final = "STEP_TIMING "
SCRATCH_NAMES: Final = ("cache",)  # never published: embedding caches are rebuilt, not served


@contextmanager
def timed(step: str) -> Iterator[None]:
    """A progress line when a step starts and ends, and one parseable timing line (bench/pipelines.py)."""
    print(f"[{step}] started", flush=True)
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    print(f"[{step}] finished in {seconds:.1f} s", flush=True)
    print(TIMING_PREFIX + json.dumps({"step": step, "seconds": round(seconds, 3)}), flush=True)


def step_timings(log: str) -> dict[str, float]:
    """Seconds per step from a run's log (a step that ran twice keeps its last timing)."""
    timings: dict[str, float] = {}
    for line in log.splitlines():
        at = line.find(TIMING_PREFIX)
        if at >= 0:
            entry = json.loads(line[at + len(TIMING_PREFIX) :])
            timings[str(entry["step"])] = float(entry["seconds"])
    return timings


_TASK_EVENT = re.compile(
    r"^(\d\d):(\d\d):(\d\d\.\d+) - INFO - (?:Executing task '([^']+)'|Task '([^']+)' finished)"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def task_walls(log: str) -> dict[str, float]:
    """Seconds per kfp.local task (process start, imports and artifact copies included)."""
    started: dict[str, float] = {}
    walls: dict[str, float] = {}
    for line in _ANSI.sub("", log).splitlines():
        match = _TASK_EVENT.match(line)
        if not match:
            continue
        hours, minutes, seconds, began, ended = match.groups()
        at = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        if began:
            started[began] = at
        elif ended in started:
            walls[ended] = round((at - started[ended]) % 86_400, 3)
    return walls


def accelerator_limit(config: PipelineConfig) -> str:
    """GPUs per training step: "1" with `gpu`, else "0" (a zero limit schedules anywhere)."""
    return "1" if config.gpu else "0"


def accelerator_type() -> str:
    return GPU_RESOURCE


def select_new_days(available: list[int], trained: list[int], eval_day: int) -> list[int]:
    """Days the serving version has not seen, without the evaluation day."""
    new = sorted(set(available) - set(trained) - {eval_day})
    if not new:
        raise ValueError(
            f"no new days to fine-tune on: the serving version trained on {sorted(trained)}, "
            f"the data has {sorted(available)}, evaluation day {eval_day}"
        )
    return new


def copy_version(source: Path, destination: Path) -> Path:
    """A step's input version into its own output folder (KFP artifacts are immutable)."""
    shutil.copytree(source, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*SCRATCH_NAMES))
    return destination


def serving_version(model_repository: Path) -> tuple[int, Path]:
    """The newest published version: what an incremental run fine-tunes and must beat."""
    from recsys_workloads.serving.rollout import versions

    numbers = versions(model_repository) if model_repository.is_dir() else []
    if not numbers:
        raise FileNotFoundError(f"no published version in {model_repository}: run the initial pipeline first")
    return numbers[-1], model_repository / str(numbers[-1])


def publish_version(version: Path, model_repository: Path, fmt: Format) -> int:
    """Export the serving models into a staging copy, then rename it to the next version number.

    Readers of the model volume see either nothing or a complete version: a failure in the
    copy or the export removes the staging folder and publishes nothing.
    """
    from recsys_workloads.models.export import export_version
    from recsys_workloads.serving.rollout import stage_version

    def write(staging: Path) -> None:
        copy_version(version, staging)
        export_version(staging, fmt)

    model_repository.mkdir(parents=True, exist_ok=True)
    return stage_version(model_repository, write)


def headline_metrics(report: Mapping[str, Any], k: int = 100) -> dict[str, float]:
    """The numbers the operator copies into TrainingRun.status.metrics, from report.json."""
    rows = report["retrieval"]

    def retrieval(method: str, name: str) -> float:
        return float(next(r[name] for r in rows if r["method"] == method and r["segment"] == "all"))

    return {
        "k": float(k),
        "recall_at_k": retrieval("two_tower", f"recall@{k}"),
        "ndcg_at_k": retrieval("two_tower", f"ndcg@{k}"),
        "reranked_recall_at_k": retrieval("two_tower+dlrm", f"recall@{k}"),
        "popularity_recall_at_k": retrieval("popularity", f"recall@{k}"),
        "auc": float(report["ranking"]["auc"]),
        "logloss": float(report["ranking"]["logloss"]),
    }
