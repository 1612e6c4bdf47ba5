"""Benchmark the training pipelines through the local runner (kfp.local), per step.

Runs the initial pipeline on a generated shop, then the incremental pipeline on the
day the initial run held back, and prints each task's wall time (process start,
imports and artifact copies included) beside the step's own timing (`STEP_TIMING` lines).

    python bench/pipelines.py                                    # bench shop, default models
    python bench/pipelines.py --users 20000 --interactions 1000000 --days 14   # the demo shop
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.contracts.runs import RunStatus
from recsys_workloads.pipelines.runner import LocalRunner
from recsys_workloads.pipelines.steps import step_timings, task_walls

console = Console()


def config(args: argparse.Namespace, root: Path, run_type: str) -> PipelineConfig:
    models: dict[str, Any] = {
        "twoTower": {"epochs": args.two_tower_epochs},
        "dlrm": {"epochs": args.dlrm_epochs},
    }
    if not args.encoders:
        models["embeddings"] = {"textModel": "", "imageModel": ""}
    generator = {
        "users": args.users,
        "interactions": args.interactions,
        "days": args.days,
        "images": args.encoders,
    }
    return PipelineConfig.model_validate(
        {
            "runType": run_type,
            "dataSources": {"layout": "generated", "generator": generator},
            "models": models,
            "artifactRoot": str(root / "artifacts"),
            "modelRepository": str(root / "models"),
            # initial: all but the last two days; incremental: the day before the last (evaluated on the last)
            "trainDays": list(range(args.days - 2)) if run_type == "Initial" else None,
        }
    )


def run(runner: LocalRunner, name: str, cfg: PipelineConfig) -> tuple[RunStatus, float, str]:
    start = time.perf_counter()
    run_id = runner.submit(name, {"config": cfg.to_argument()}, run_name=name)
    while not (status := runner.status(run_id)).finished:
        time.sleep(1)
    log = (runner.run_dir(run_id) / "run.log").read_text(errors="replace")
    if status.state != "SUCCEEDED":
        console.print(log[-4000:])
        raise SystemExit(f"{name}: {status.state}: {status.error}")
    return status, time.perf_counter() - start, log


def table(title: str, wall: float, log: str) -> Table:
    walls, bodies = task_walls(log), step_timings(log)
    out = Table(title=f"{title}: {wall:.0f} s wall")
    for column in ("task", "task wall s", "step body s", "overhead s"):
        out.add_column(column, justify="left" if column == "task" else "right")
    for task, seconds in walls.items():
        body = bodies.get(task.replace("-", "_"))
        overhead = f"{seconds - body:.1f}" if body is not None else ""
        out.add_row(task, f"{seconds:.1f}", f"{body:.1f}" if body is not None else "", overhead)
    out.add_row("sum of tasks", f"{sum(walls.values()):.1f}", f"{sum(bodies.values()):.1f}", "")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--two-tower-epochs", type=int, default=3)
    parser.add_argument("--dlrm-epochs", type=int, default=2)
    parser.add_argument(
        "--encoders", action=argparse.BooleanOptionalAction, default=True, help="Sentence-BERT text encoder"
    )
    parser.add_argument("--out", type=Path, help="write the timings as JSON here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipelines-") as tmp:
        root = Path(tmp)
        runner = LocalRunner(root / "runs")
        results = {}
        for name, run_type in (("initial", "Initial"), ("incremental", "Incremental")):
            status, wall, log = run(runner, name, config(args, root, run_type))
            console.print(table(name, wall, log))
            metrics = status.outputs.get("metrics")
            if isinstance(metrics, dict):
                console.print({k: round(float(v), 4) for k, v in metrics["metadata"].items()})
            results[name] = {"wall_s": wall, "tasks": task_walls(log), "steps": step_timings(log)}
    if args.out:
        args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, **results}, indent=1))


if __name__ == "__main__":
    main()
