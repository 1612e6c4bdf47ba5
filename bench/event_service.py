"""Benchmark of the event service and of feature lookups (Feast online vs the in-memory caches serving uses).

Run: `python bench/event_service.py` (starts its own redis-server and the service, as a
uvicorn subprocess, on free loopback ports; stops by itself). Client threads keep one
keep-alive connection each. The WAL fsyncs every request, as in production.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from recsys_workloads import feature_store as fs
from recsys_workloads.contracts import keys
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.contracts.online import PopularityConfig
from recsys_workloads.data import schema as s
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest
from recsys_workloads.events.client import EventClient
from recsys_workloads.features.tables import load_users
from recsys_workloads.models import artifacts
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import era_of
from recsys_workloads.online.seen_filter import make_seen_filter
from recsys_workloads.runtime import toolchain
from recsys_workloads.runtime.ports import free_port, port_is_open
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.serving.user_lookup import UserProfiles

console = Console()


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q))


def start_service(config: EventServiceConfig, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    config_file = workdir / "events.json"
    config_file.write_text(config.model_dump_json(by_alias=True))
    port = free_port()
    argv = [sys.executable, "-m", "recsys_workloads.events.cli", "serve", "--config", str(config_file)]
    process = subprocess.Popen([*argv, "--port", str(port)], stderr=(workdir / "service.log").open("wb"))
    deadline = time.monotonic() + 60
    while not port_is_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((workdir / "service.log").read_text())
        time.sleep(0.05)
    return process, port


def load(
    port: int, requests: int, clients: int, make: Callable[[int], dict[str, Any]], per_request: int
) -> dict[str, float]:
    """`requests` posts from `clients` threads; events/s and per-request latency (ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    errors: list[int] = []

    def worker() -> None:
        client = EventClient("127.0.0.1", port)
        mine: list[float] = []
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            started = time.perf_counter()
            answer = client.post_events(make(n))
            mine.append((time.perf_counter() - started) * 1e3)
            if answer.status != 200:
                errors.append(answer.status)
        client.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    return {
        "events_per_s": requests * per_request / elapsed,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "requests": requests,
    }


def event_to_visible(port: int, redis_url: str, items: list[str], rounds: int) -> dict[str, list[float]]:
    """From sending the POST to the seen filter and popularity both showing the event (ms).

    Popularity is checked with ZSCORE of the item in the current era's global set (what a
    reader's ZREVRANGE ranks by), so the check itself costs one round trip.
    """
    store = connect(redis_url, timeout_s=2.0)
    seen = make_seen_filter(store)
    config = PopularityConfig()
    client = EventClient("127.0.0.1", port)
    post_ms, visible_ms = [], []

    def score(item: str, at: float) -> float:
        return float(store.zscore(keys.pop_global_key(era_of(at, config)), item) or 0.0)  # type: ignore[arg-type]

    for n in range(rounds):
        user, item = f"vis-{n}", items[n % len(items)]
        before = score(item, time.time())
        started = time.perf_counter()
        answer = client.post_events(
            {"event_id": f"v{n}", "user_id": user, "item_id": item, "event_type": "View"}
        )
        answered = time.perf_counter()
        now = time.time()
        visible = bool(seen.contains(user, [item], now)[0]) and score(item, now) > before
        done = time.perf_counter()
        if answer.status != 200 or not visible:
            raise RuntimeError(f"event {n} not visible after the answer")
        post_ms.append((answered - started) * 1e3)
        visible_ms.append((done - started) * 1e3)
    client.close()
    return {"post": post_ms, "visible": visible_ms}


def feast_store(
    dataset: Path, workdir: Path, redis_port: int, ids: list[str], vectors: npt.NDArray[np.float32]
) -> Any:
    """The shop's feature tables applied and materialised into the bench's redis-server."""
    config = fs.local_config("127.0.0.1", redis_port, workdir / "features", workdir / "repo" / "registry.db")
    as_of = dt.datetime.now(dt.UTC)
    fs.build_feature_tables(dataset, workdir / "features", as_of, config, (ids, vectors))
    store = fs.apply(workdir / "repo", config)
    fs.materialize(store, as_of + dt.timedelta(seconds=1), config)
    return store


def feature_lookups(
    dataset: Path, workdir: Path, redis_port: int, n_items: int, repeat: int
) -> dict[str, list[float]]:
    """Feast `get_online_features` vs the in-memory caches serving uses, for items and for one user.

    Items: `n_items` per draw vs indexing NumPy arrays by an id -> row map. User profile (age,
    gender; what step 2 reads per request): Feast vs `UserProfiles.get` on the version's sorted ids.
    """
    items = pq.read_table(dataset / s.ITEMS_FILE)
    ids = items.column(s.ITEM_ID).to_pylist()
    dim = 64
    vectors = np.random.default_rng(0).standard_normal((len(ids), dim)).astype(np.float32)
    store = feast_store(dataset, workdir, redis_port, ids, vectors)
    refs = [
        "item_attributes:category_l1",
        "item_attributes:price",
        "item_popularity:popularity",
        "item_embeddings:embedding",
    ]
    rng = np.random.default_rng(1)
    picks = [rng.choice(len(ids), n_items, replace=False) for _ in range(repeat)]

    feast_ms = []
    for rows in picks:
        started = time.perf_counter()
        got = fs.online_features(store, refs, [{"item_id": ids[r]} for r in rows])
        feast_ms.append((time.perf_counter() - started) * 1e3)
    assert len(got["embedding"]) == n_items

    row_of = {item: r for r, item in enumerate(ids)}
    categories = np.asarray(items.column(s.CATEGORY_L1).to_pylist(), dtype=object)
    prices = items.column(s.PRICE).to_numpy()
    cache_ms = []
    for rows in picks:
        wanted = [ids[r] for r in rows]
        started = time.perf_counter()
        index = np.fromiter((row_of[i] for i in wanted), np.int64, len(wanted))
        _ = (categories[index], prices[index], vectors[index])
        cache_ms.append((time.perf_counter() - started) * 1e3)

    users = load_users(dataset)
    artifacts.save_users(workdir / artifacts.USERS_FILE, users.user_ids, users.age, users.gender)
    profiles = UserProfiles.load(workdir)
    asked = [str(u) for u in rng.choice(users.user_ids, repeat * 4)]
    feast_user_ms, profile_ms = [], []
    for user in asked:
        started = time.perf_counter()
        row = fs.online_features(store, ["user_profile:age", "user_profile:gender"], [{"user_id": user}])
        feast_user_ms.append((time.perf_counter() - started) * 1e3)
        started = time.perf_counter()
        age, gender = profiles.get(user)
        profile_ms.append((time.perf_counter() - started) * 1e3)
        if row["gender"] != [gender]:
            raise RuntimeError(f"Feast and users.npz disagree on user {user}: {row} vs {age}, {gender}")
    return {"feast": feast_ms, "cache": cache_ms, "feast_user": feast_user_ms, "profiles": profile_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2_000, help="single-event posts")
    parser.add_argument("--batch", type=int, default=100, help="events per batched post")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--visible-rounds", type=int, default=300)
    parser.add_argument("--items", type=int, default=300, help="items per feature lookup")
    parser.add_argument("--skip-feast", action="store_true")
    parser.add_argument("--only-lookups", action="store_true", help="skip the event-service load")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        work = Path(tmp)
        generate(GeneratorConfig(users=1_000, interactions=20_000, days=2, images=False), work / "raw")
        ingest(work / "raw", work / "shop")
        ids = pq.read_table(work / "shop" / s.ITEMS_FILE).column(s.ITEM_ID).to_pylist()
        with RedisServer(toolchain.discover().redis_server, work / "valkey") as valkey:
            config = EventServiceConfig(redis_url=valkey.url, catalog=work / "shop", log_dir=work / "log")
            process, port = start_service(config, work)
            try:

                def single(n: int) -> dict[str, Any]:
                    return {"event_id": f"s{n}", "user_id": f"u{n % 1000}", "item_id": ids[n % len(ids)],
                            "event_type": "View", "device": "web"}  # fmt: skip

                def batched(n: int) -> dict[str, Any]:
                    return {"events": [single(1_000_000 + n * args.batch + i) for i in range(args.batch)]}

                if not args.only_lookups:
                    one = load(port, args.requests, args.clients, single, 1)
                    many = load(port, args.batches, args.clients, batched, args.batch)
                    visible = event_to_visible(port, valkey.url, ids, args.visible_rounds)
            finally:
                process.terminate()
                process.wait(30)
            lookups = (
                None if args.skip_feast else feature_lookups(work / "shop", work, valkey.port, args.items, 50)
            )

    if not args.only_lookups:
        report_events(args, one, many, visible)
    if lookups:
        report_lookups(args.items, lookups)


def report_events(
    args: argparse.Namespace, one: dict[str, float], many: dict[str, float], visible: dict[str, list[float]]
) -> None:
    table = Table(title=f"Event service ({args.clients} concurrent clients, WAL fsync per request)")
    for column in ("posts", "requests", "events/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    table.add_row("single event", f"{one['requests']:,.0f}", f"{one['events_per_s']:,.0f}", f"{one['p50']:.2f}",
                  f"{one['p99']:.2f}")  # fmt: skip
    table.add_row(f"batch of {args.batch}", f"{many['requests']:,.0f}", f"{many['events_per_s']:,.0f}",
                  f"{many['p50']:.2f}", f"{many['p99']:.2f}")  # fmt: skip
    console.print(table)
    console.print(f"batched / single events per second: {many['events_per_s'] / one['events_per_s']:.1f}x")
    v = Table(title=f"Event -> visible, one client, sequential ({args.visible_rounds} rounds)")
    for column in ("", "p50 ms", "p99 ms", "max ms"):
        v.add_column(column, justify="right")
    for name, label in (("post", "POST answered"), ("visible", "POST + seen filter and popularity show it")):
        v.add_row(
            label,
            f"{pct(visible[name], 50):.2f}",
            f"{pct(visible[name], 99):.2f}",
            f"{max(visible[name]):.2f}",
        )
    console.print(v)


def report_lookups(n_items: int, lookups: dict[str, list[float]]) -> None:
    for title, pair in (
        (f"Item features for {n_items} items (50 draws)", (("feast", "Feast get_online_features (Redis)"), ("cache", "NumPy cache"))),
        ("One user's age and gender (200 users)", (("feast_user", "Feast get_online_features (Redis)"), ("profiles", "UserProfiles.get (users.npz)"))),
    ):  # fmt: skip
        t = Table(title=title)
        for column in ("source", "p50 ms", "p99 ms"):
            t.add_column(column, justify="right")
        for name, label in pair:
            t.add_row(label, f"{pct(lookups[name], 50):.4f}", f"{pct(lookups[name], 99):.4f}")
        console.print(t)
        (slow, _), (fast, _) = pair
        console.print(f"speed-up: {pct(lookups[slow], 50) / pct(lookups[fast], 50):,.0f}x")


if __name__ == "__main__":
    main()
