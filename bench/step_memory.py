"""Peak memory of a training step's data phase, id columns read two ways, in the same run.

Each variant runs in a fresh child process (as each pipeline step runs in its own pod) and
reports its peak RSS after each phase: `load` (`Shop.load`), `fit` (+ the transforms fitted on
the training days), `examples` (+ the DLRM's training data of those days: user history, query
features, ranking rows with sampled negatives). The model fit itself comes on top.
Baseline: one Python string per row and id column, the reading before dictionary encoding.

    python bench/step_memory.py --dataset /tmp/full/canonical --train-days 9 --negatives 1
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

VARIANTS = ("strings", "interned")
PHASES = ("load", "fit", "examples")


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(dataset: Path, variant: str, train_days: int, negatives: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from recsys_workloads.features import tables
    from recsys_workloads.features.fit import examples, fit_transforms
    from recsys_workloads.models.pipeline import Shop
    from recsys_workloads.models.train import ranking_rows

    if variant == "strings":

        def plain(column: pa.ChunkedArray) -> Any:
            return np.array(pc.cast(column, pa.string()).to_pylist(), dtype=object)

        tables.interned_strings = plain
    out: dict[str, Any] = {}
    start = time.perf_counter()
    shop = Shop.load(dataset)
    out["load"] = (_peak_gib(), time.perf_counter() - start)
    days = shop.days[:train_days]
    rows = shop.interactions.select(np.isin(shop.interactions.day, days))
    t = fit_transforms(shop.catalog, shop.users, rows, 5)
    out["fit"] = (_peak_gib(), time.perf_counter() - start)
    ex = examples(t, shop.catalog, shop.users, shop.interactions, rows, days)
    ranking = ranking_rows(ex, len(shop.catalog), negatives, np.random.default_rng(0))
    out["examples"] = (_peak_gib(), time.perf_counter() - start)
    out["rows"] = len(ranking.label)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, required=True, help="canonical dataset folder")
    parser.add_argument("--train-days", type=int, default=9)
    parser.add_argument("--negatives", type=int, default=1, help="sampled negatives per click")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.dataset, args.child, args.train_days, args.negatives)))
        return
    results = {}
    for variant in VARIANTS:
        done = subprocess.run(
            [sys.executable, __file__, "--dataset", str(args.dataset), "--train-days", str(args.train_days),
             "--negatives", str(args.negatives), "--child", variant],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    table = Table(title=f"peak RSS GiB (seconds since start), {results['interned']['rows']:,} ranking rows")
    table.add_column("phase")
    for variant in VARIANTS:
        table.add_column(variant)
    table.add_column("ratio")
    for phase in PHASES:
        (base, base_s), (new, new_s) = (results[v][phase] for v in VARIANTS)
        table.add_row(
            phase, f"{base:.2f} ({base_s:.0f} s)", f"{new:.2f} ({new_s:.0f} s)", f"{base / new:.2f}x"
        )
    Console().print(table)


if __name__ == "__main__":
    main()
