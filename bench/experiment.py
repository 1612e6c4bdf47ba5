"""Benchmark what an experiment adds to one homepage request in the API (issue 19: goal <= 0.2 ms p50).

On the request path the API adds: a recommendation id (uuid4), the arm assignment (a blake2b
hash), the arm's metrics (a counter and a histogram), and an append to the homepage log. The
log is written to Valkey off the request path, every 50 ms, in one pipeline: that cost is
measured apart, per homepage, against a real redis-server. The baseline in the same run is the
same loop without the experiment calls (the id alone), so the ratio is what the experiment adds.

    python bench/experiment.py                 # 20,000 requests, 3 arms + shadow
    python bench/experiment.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from recsys_workloads.contracts.experiment import ResolvedArm, ResolvedExperiment
from recsys_workloads.experiments.homepage_log import HomepageLog
from recsys_workloads.online.client import connect
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.toolchain import discover
from recsys_workloads.serving.api.experiment import ExperimentRouter
from recsys_workloads.serving.api.metrics import ApiMetrics
from recsys_workloads.serving.triton.client import AsyncTritonRecommender

EXPERIMENT = ResolvedExperiment(
    name="bench",
    arms=[
        ResolvedArm(name="model", version=4, weight=40, ensemble="homepage"),
        ResolvedArm(name="previous", version=3, weight=40, ensemble="homepage__v3"),
        ResolvedArm(name="popular", version=None, weight=20, ensemble="homepage_popular"),
    ],
    attribution_window_s=1800,
)
ITEMS = [f"item-{i}" for i in range(20)]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    a = np.asarray(samples_ms)
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "mean_ms": float(a.mean()),
    }


def run(requests: int, redis_url: str) -> dict[str, Any]:
    client = connect(redis_url)
    router = ExperimentRouter(EXPERIMENT, client, AsyncTritonRecommender("127.0.0.1:1"), ApiMetrics())
    router.log = HomepageLog(client, EXPERIMENT, max_pending=requests)  # measure appends, not drops
    users = [str(u) for u in range(requests)]

    baseline, added = [], []
    for _user in users:  # the baseline: what every request does anyway (an id)
        start = time.perf_counter()
        _ = uuid.uuid4().hex
        baseline.append((time.perf_counter() - start) * 1e3)
    for user in users:
        start = time.perf_counter()
        rid = uuid.uuid4().hex
        arm = router.arm(user, rid)
        router.served(rid, arm, user, ITEMS, start, False)
        added.append((time.perf_counter() - start) * 1e3)

    start = time.perf_counter()
    flushed = router.log.flush()  # one pipeline here; the API flushes 50 ms worth at a time
    flush_s = time.perf_counter() - start
    client.close()
    return {
        "requests": requests,
        "baseline": percentiles(baseline),
        "with_experiment": percentiles(added),
        "added_p50_ms": percentiles(added)["p50_ms"] - percentiles(baseline)["p50_ms"],
        "flush": {
            "homepages": flushed,
            "seconds": flush_s,
            "per_homepage_us": flush_s / max(flushed, 1) * 1e6,
        },
        "dropped": router.log.dropped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    toolchain = discover()
    with tempfile.TemporaryDirectory() as work, RedisServer(toolchain.redis_server, Path(work)) as store:
        result = run(args.requests, store.url)
    b, e, f = result["baseline"], result["with_experiment"], result["flush"]
    print(f"{result['requests']} requests, {len(EXPERIMENT.arms)} arms")
    print(f"  baseline (id only)      p50 {b['p50_ms'] * 1e3:7.1f} us  p99 {b['p99_ms'] * 1e3:7.1f} us")
    print(
        f"  + assignment, metrics, log append  p50 {e['p50_ms'] * 1e3:7.1f} us  p99 {e['p99_ms'] * 1e3:7.1f} us"
    )
    print(f"  added p50 {result['added_p50_ms'] * 1e3:.1f} us (goal <= 200 us)")
    print(
        f"  off the request path: flush {f['per_homepage_us']:.1f} us per homepage ({f['homepages']} written)"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
