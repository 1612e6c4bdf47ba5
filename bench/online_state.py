"""Benchmark of the online state: seen-filter checks (Lua vs BITFIELD_RO vs GETBIT), adds, FPR, popularity.

Run: `python bench/online_state.py` (starts its own redis-server on a free loopback port).
Only the bitmap backend is measured: Debian's redis-server has no `BF.*` commands.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import redis
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import BitmapSeenFilter
from recsys_workloads.runtime import toolchain
from recsys_workloads.runtime.redis_server import RedisServer

NOW = 1_795_000_000.0
DAY = 86_400


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` calls after a short warm-up."""
    for _ in range(min(50, repeat)):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q))


def bitfield_ro_contains(
    client: redis.Redis, seen: BitmapSeenFilter, user: str, ids: NDArray[np.int64], at: float
) -> NDArray[np.bool_]:
    """Baseline: one BITFIELD_RO per day key in one pipeline, AND/OR in numpy."""
    day_keys = keys.seen_window_keys(user, at, seen.config.window_days)
    pos = seen.positions(ids)
    ops: list[str | int] = []
    for p in pos.ravel().tolist():
        ops += ["GET", "u1", p]
    pipe = client.pipeline(transaction=False)
    for key in day_keys:
        pipe.execute_command("BITFIELD_RO", key, *ops)  # type: ignore[no-untyped-call]
    found = np.zeros(len(ids), dtype=np.bool_)
    for bits in pipe.execute():
        found |= np.asarray(bits, dtype=np.int8).reshape(pos.shape).all(axis=1)
    return found


def getbit_contains(
    client: redis.Redis, seen: BitmapSeenFilter, user: str, ids: NDArray[np.int64], at: float
) -> NDArray[np.bool_]:
    """Baseline: every GETBIT of every day key pipelined (no early exit)."""
    day_keys = keys.seen_window_keys(user, at, seen.config.window_days)
    pos = seen.positions(ids).ravel().tolist()
    pipe = client.pipeline(transaction=False)
    for key in day_keys:
        for p in pos:
            pipe.getbit(key, p)
    bits = np.asarray(pipe.execute(), dtype=np.int8).reshape(len(day_keys), len(ids), -1)
    return np.asarray(bits.all(axis=2).any(axis=0))


# Alternative test script: GET each day bitmap once, test bits with Lua's bit ops. Faster at the
# default sizes, but copies whole bitmaps per call, so its cost grows with capacity.
STRING_LUA = """
local k = tonumber(ARGV[1])
local n = (#ARGV - 1) / k
local maps = {}
for i = 1, #KEYS do
  local s = redis.call('GET', KEYS[i])
  if s then maps[#maps + 1] = s end
end
local band, lshift, byte, floor = bit.band, bit.lshift, string.byte, math.floor
local out = {}
for c = 0, n - 1 do
  local seen = 0
  local base = 1 + c * k
  for d = 1, #maps do
    local s = maps[d]
    local all = 1
    for j = 1, k do
      local p = tonumber(ARGV[base + j])
      local b = byte(s, floor(p / 8) + 1)
      if (not b) or band(b, lshift(1, 7 - p % 8)) == 0 then
        all = 0
        break
      end
    end
    if all == 1 then
      seen = 1
      break
    end
  end
  out[c + 1] = seen
end
return out
"""


def fill(seen: BitmapSeenFilter, user: str, per_day: int, days: int) -> NDArray[np.int64]:
    items = []
    for day in range(days):
        batch = np.arange(per_day, dtype=np.int64) + day * per_day
        seen.add(user, batch, at=NOW - day * DAY)
        items.append(batch)
    return np.concatenate(items)


def bench_checks(
    console: Console, client: redis.Redis, config: SeenFilterConfig, per_day: int, repeat: int
) -> dict[str, float]:
    seen = BitmapSeenFilter(client, config)
    user = f"bench-{config.window_days}-{per_day}"
    members = fill(seen, user, per_day, config.window_days)
    rng = np.random.default_rng(0)
    candidates = np.concatenate(
        [rng.choice(members, 10, replace=False), rng.integers(10**8, 2 * 10**8, 90)]
    ).astype(np.int64)
    expected = seen.contains(user, candidates, NOW)
    string_script = client.register_script(STRING_LUA)
    day_keys = keys.seen_window_keys(user, NOW, config.window_days)

    def string_contains() -> NDArray[np.bool_]:
        args = [seen.hashes, *seen.positions(candidates).ravel().tolist()]
        return np.asarray(string_script(keys=day_keys, args=args), dtype=np.int8).astype(np.bool_)

    assert np.array_equal(string_contains(), expected)
    assert np.array_equal(bitfield_ro_contains(client, seen, user, candidates, NOW), expected)
    assert np.array_equal(getbit_contains(client, seen, user, candidates, NOW), expected)

    table = Table(
        title=f"test 100 candidates (10 seen) against {config.window_days} day filter(s), "
        f"{per_day} items/day, m={seen.bits} k={seen.hashes}"
    )
    for col in ("method", "p50 ms", "p99 ms", "checks/s", "p50 vs Lua"):
        table.add_column(col, justify="right")
    results: dict[str, float] = {}
    methods: list[tuple[str, Callable[[], object], int]] = [
        ("Lua GETBIT, early exit (shipped)", lambda: seen.contains(user, candidates, NOW), repeat),
        ("Lua GET + bit ops (alternative)", string_contains, repeat),
        ("BITFIELD_RO pipeline", lambda: bitfield_ro_contains(client, seen, user, candidates, NOW), repeat),
        (
            "GETBIT pipeline",
            lambda: getbit_contains(client, seen, user, candidates, NOW),
            max(20, repeat // 10),
        ),
    ]
    lua_p50 = 0.0
    for name, fn, n in methods:
        samples = timed(fn, n)
        p50, p99 = pct(samples, 50), pct(samples, 99)
        lua_p50 = lua_p50 or p50
        checks = 100 * 1e3 / statistics.fmean(samples)
        results[name] = p50
        table.add_row(name, f"{p50:.3f}", f"{p99:.3f}", f"{checks:,.0f}", f"{p50 / lua_p50:.2f}x")
    console.print(table)
    return results


def bench_fpr(console: Console, client: redis.Redis, config: SeenFilterConfig) -> None:
    seen = BitmapSeenFilter(client, config)
    user = f"fpr-{config.window_days}"
    members = fill(seen, user, config.capacity, config.window_days)
    false_negatives = int((~seen.contains(user, members, NOW)).sum())
    probes = np.arange(20_000, dtype=np.int64) + 10**9
    hits = sum(int(seen.contains(user, c, NOW).sum()) for c in np.array_split(probes, 20))
    console.print(
        f"FPR, {config.window_days} day filter(s) each filled to capacity {config.capacity} "
        f"at configured {config.error_rate}: {hits / probes.size:.4f} over {probes.size:,} probes, "
        f"{false_negatives} false negatives of {members.size:,}"
    )


def bench_writes(console: Console, client: redis.Redis, repeat: int) -> None:
    seen = BitmapSeenFilter(client, SeenFilterConfig())
    pop = Popularity(client)
    counter = iter(range(10**9))
    table = Table(title="writes and popularity reads")
    for col in ("operation", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right")
    ops: list[tuple[str, Callable[[], object]]] = [
        ("seen add, 1 item (event)", lambda: seen.add("writer", [next(counter)], NOW)),
        ("seen add, 100 items", lambda: seen.add("writer", np.arange(100) + next(counter) * 100, NOW)),
        ("popularity record (global + category)", lambda: pop.record(next(counter) % 5000, NOW, "cat1")),
        ("popularity top 100 global", lambda: pop.top(100, NOW)),
    ]
    for name, fn in ops:
        samples = timed(fn, repeat)
        table.add_row(name, f"{pct(samples, 50):.3f}", f"{pct(samples, 99):.3f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1000)
    args = parser.parse_args()
    console = Console()
    with (
        tempfile.TemporaryDirectory() as tmp,
        RedisServer(toolchain.discover().redis_server, Path(tmp)) as srv,
    ):
        client = connect(srv.url, timeout_s=5.0)
        info = cast(dict[str, object], client.info("server"))
        console.print(f"redis-server {info['redis_version']} on port {srv.port}")
        bench_checks(console, client, SeenFilterConfig(window_days=1), per_day=5000, repeat=args.repeat)
        bench_checks(console, client, SeenFilterConfig(), per_day=200, repeat=args.repeat)
        bench_checks(console, client, SeenFilterConfig(), per_day=5000, repeat=args.repeat)
        bench_fpr(console, client, SeenFilterConfig(window_days=1))
        bench_fpr(console, client, SeenFilterConfig())
        bench_writes(console, client, args.repeat)
        client.close()


if __name__ == "__main__":
    main()
