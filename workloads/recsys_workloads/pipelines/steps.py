"""The logic behind the training components, as plain functions (components only wire).

Kept free of TensorFlow at import time: the operator imports `resources` through the
pipeline modules, and the export step imports Keras only when it runs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from recsys_workloads.contracts.pipelines import GPU_RESOURCE, DataWindow, PipelineConfig, utc

if TYPE_CHECKING:
    from recsys_workloads.models.export import Format

TIMING_PREFIX: Final = "STEP_TIMING "
SCRATCH_NAMES: Final = ("cache",)  # never published: embedding caches are rebuilt, not served
SECONDS_PER_DAY: Final = 86_400


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


def node_selector(config: PipelineConfig) -> dict[str, str]:
    """The training pods' nodeSelector, as kfp-kubernetes' `add_node_selector_json` takes it."""
    return dict(config.node_selector)


def tolerations(config: PipelineConfig) -> list[dict[str, str]]:
    """The training pods' tolerations, Kubernetes-shaped (for `add_toleration_json`)."""
    return [t.model_dump(by_alias=True, exclude_none=True) for t in config.tolerations]


def model_claim(config: PipelineConfig) -> str:
    """The model volume's PVC; "" in local mode (kfp.local ignores the mount; a KFP driver rejects it)."""
    return config.model_volume_claim or ""


def dataset_origin(dataset: Path) -> int | None:
    """Unix time of day 0 of a canonical dataset (its manifest's `origin_timestamp`)."""
    from recsys_workloads.data import schema as s  # pyarrow: only where a step runs

    manifest = dataset / s.MANIFEST_FILE
    value = json.loads(manifest.read_text()).get("origin_timestamp") if manifest.is_file() else None
    return int(value) if value is not None else None


def window_days(days: list[int], origin: int | None, window: DataWindow) -> list[int]:
    """The dataset days wholly inside [start, end): training never sees an interaction outside it.

    A day partly outside (a window ending at 10:00) is left out, since steps train on whole days.
    """
    if origin is None:
        raise ValueError("dataWindow needs the dataset's day origin, and its manifest has none")
    low = utc(window.start).timestamp() if window.start is not None else None
    high = utc(window.end).timestamp() if window.end is not None else None
    inside = [
        d
        for d in days
        if (low is None or origin + d * SECONDS_PER_DAY >= low)
        and (high is None or origin + (d + 1) * SECONDS_PER_DAY <= high)
    ]
    if not inside:
        first = dt.datetime.fromtimestamp(origin, dt.UTC).date()
        raise ValueError(
            f"dataWindow [{window.start}, {window.end}) holds no whole day of the dataset "
            f"(days {days[0] if days else '-'}..{days[-1] if days else '-'} from {first})"
        )
    return inside


def initial_train_days(config: PipelineConfig, days: list[int], origin: int | None) -> list[int] | None:
    """trainDays, or the window's days before the held-out ones; None: the default split."""
    if config.data_window is None:
        return config.train_days
    held_out = set(days[-config.models.validation_days :])
    chosen = [d for d in window_days(days, origin, config.data_window) if d not in held_out]
    if not chosen:
        raise ValueError(f"dataWindow holds only held-out evaluation days {sorted(held_out)}")
    return chosen


def fine_tune_days(
    config: PipelineConfig, days: list[int], trained: list[int], origin: int | None
) -> tuple[list[int], int]:
    """(new days, evaluation day) of an incremental run: newDays, else the unseen days (in the window)."""
    eval_day = config.eval_day if config.eval_day is not None else days[-1]
    if config.new_days:
        return list(config.new_days), eval_day
    available = days if config.data_window is None else window_days(days, origin, config.data_window)
    return select_new_days(available, trained, eval_day), eval_day


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
    from recsys_workloads.serving.triton.rollout import versions

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
    from recsys_workloads.serving.triton.rollout import stage_version

    def write(staging: Path) -> None:
        copy_version(version, staging)
        export_version(staging, fmt)

    model_repository.mkdir(parents=True, exist_ok=True)
    return stage_version(model_repository, write)


CATALOG: Final = "catalog"  # <model repository>/catalog: what the event service reads at start-up


def publish_catalog(dataset: Path, model_repository: Path) -> Path:
    """The dataset's items and manifest as `<repository>/catalog`, swapped in atomically.

    The event service validates events against the catalog and counts days from the
    manifest's origin; in a cluster it has only the model volume. The files go to a fresh
    `.catalog-<id>` folder first, then the `catalog` symlink is replaced in one rename, so a
    reader sees the old catalog or the new one, never half of one.
    """
    import uuid

    from recsys_workloads.data import schema as s

    model_repository.mkdir(parents=True, exist_ok=True)
    folder = model_repository / f".{CATALOG}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    shutil.copyfile(dataset / s.ITEMS_FILE, folder / s.ITEMS_FILE)
    shutil.copyfile(dataset / s.MANIFEST_FILE, folder / s.MANIFEST_FILE)
    link, staged = model_repository / CATALOG, model_repository / f".{CATALOG}-link-{folder.name}"
    staged.symlink_to(folder.name)
    staged.replace(link)  # fails on a real folder named catalog: nothing of ours is ever there
    for old in model_repository.glob(f".{CATALOG}-*"):
        if old != folder and old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
    return link


def days_metrics(trained: Sequence[int], eval_day: int) -> dict[str, float]:
    """Which dataset days a run trained on (an incremental run: its new days) and evaluated on.

    Metrics carry numbers only, so the days are a range and a count (a gap shows as count < range).
    """
    return {
        "first_trained_day": float(min(trained)),
        "last_trained_day": float(max(trained)),
        "trained_days": float(len(set(trained))),
        "eval_day": float(eval_day),
    }


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
        "queries": retrieval("two_tower", "queries"),
    }


def run_outputs(
    metrics_uri: str,
    metrics: Mapping[str, Any],
    report_uri: str,
    version: int,
    accepted: bool | None = None,
    data: tuple[str, Mapping[str, Any]] | None = None,
) -> dict[str, object]:
    """The shape `RunStatus.outputs` has with the local runner: artifacts as uri + metadata.

    `data`: the data step's summary (uri, metadata): counts read, kept and dropped.
    """
    outputs: dict[str, object] = {
        "metrics": {"uri": metrics_uri, "metadata": dict(metrics)},
        "report": {"uri": report_uri, "metadata": {}},
        "version": int(version),
    }
    if accepted is not None:
        outputs["accepted"] = bool(accepted)
    if data is not None:
        outputs["data"] = {"uri": data[0], "metadata": dict(data[1])}
    return outputs
