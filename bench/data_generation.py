"""Benchmark the synthetic shop: the demo config as baseline, optionally the seed's full scale.

Each config runs in a fresh child process so peak RSS (ru_maxrss) is that run's own.

    python bench/data_generation.py          # demo shop (20k users, 1M interactions)
    python bench/data_generation.py --full   # plus 300k users, 13M interactions, 14 days
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

CHILD = """
import json, resource, sys, time
from pathlib import Path
from recsys_workloads.data.generator import GeneratorConfig, generate
config = GeneratorConfig.model_validate_json(sys.argv[1])
started = time.perf_counter()
summary = generate(config, Path(sys.argv[2]))
elapsed = time.perf_counter() - started
print(json.dumps({
    "seconds": elapsed,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "interactions": summary.interactions,
    "impressions": summary.impressions,
}))
"""


def run(name: str, config: dict[str, object], workdir: Path) -> dict[str, object]:
    out = workdir / name
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(config), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    result["disk_mib"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    result["name"] = name
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also run the seed's full scale")
    args = parser.parse_args()
    configs: list[tuple[str, dict[str, object]]] = [
        ("demo: 20k users, 1M", {"users": 20_000, "interactions": 1_000_000}),
    ]
    if args.full:
        configs.append(("full: 300k users, 13M", {"users": 300_000, "interactions": 13_000_000}))
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        results = [run(name, config, Path(tmp)) for name, config in configs]
    table = Table(title="recsys data generate (14 days, 2,465 items, images on, 2 impressions/view)")
    for column in (
        "config",
        "wall s",
        "generate s",
        "peak RSS MiB",
        "interactions",
        "all rows",
        "rows/s",
        "disk MiB",
    ):
        table.add_column(column, justify="right")
    for r in results:
        rows = int(r["interactions"]) + int(r["impressions"])  # type: ignore[call-overload]
        seconds = float(r["seconds"])  # type: ignore[arg-type]
        table.add_row(
            str(r["name"]),
            f"{float(r['wall_seconds']):.1f}",  # type: ignore[arg-type]
            f"{seconds:.1f}",
            f"{float(r['peak_rss_mib']):.0f}",  # type: ignore[arg-type]
            f"{int(r['interactions']):,}",  # type: ignore[call-overload]
            f"{rows:,}",
            f"{rows / seconds:,.0f}",
            f"{float(r['disk_mib']):.0f}",  # type: ignore[arg-type]
        )
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
