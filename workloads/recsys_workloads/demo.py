"""`recsys demo`: the most complete end-to-end path local mode has today, on real components.

Generates (or reuses) the demo shop, ingests it into the canonical dataset, trains it with
the initial Kubeflow pipeline through kfp.local (two-tower, FAISS, DLRM), loads decayed
popularity and seen-item filters into a real redis-server, builds and validates the
14-step Triton repository of the trained version, starts the real `tritonserver`, and asks
it for homepages: a registered user, an anonymous visitor and a brand-new user, then shows
an item disappearing right after the user interacts with it. `--no-train` serves the
cold-start popularity path instead. `recsys local up` (issue 9) will grow from this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tritonclient.grpc as grpcclient
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from recsys_workloads.data import schema as s
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest, open_interactions
from recsys_workloads.data.sources import DataSourcesSpec
from recsys_workloads.data.stats import compute_stats, render
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import SeenFilterConfig, make_seen_filter
from recsys_workloads.pipelines.config import PipelineConfig
from recsys_workloads.pipelines.runner import LocalRunner
from recsys_workloads.runtime import toolchain as tc
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.recommender import RecommendationRequest
from recsys_workloads.serving.repository import build_repository, build_version_repository
from recsys_workloads.serving.triton_client import TritonRecommender

ENSEMBLE = "homepage_popular"
MODELS = ["context_preprocessor", "popular_items", ENSEMBLE]
NEW_USER = "new-user-demo"


class DemoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    workdir: Path
    users: int = Field(3_000, ge=100)
    interactions: int = Field(100_000, ge=1_000)
    days: int = Field(8, ge=2, le=99)
    seed: int = 0
    num_items: int = Field(8, ge=1, le=100)
    train: bool = Field(True, description="train with the initial pipeline and serve the 14-step ensemble")


@dataclass(frozen=True)
class Homepage:
    user: str
    device: str
    item_ids: list[str]
    scores: list[float]
    filter_skipped: bool
    latency_ms: float


def ensure_shop(config: DemoConfig, console: Console) -> Path:
    """Generate the demo shop once; a rerun with the same workdir reuses it."""
    shop = config.workdir / "shop"
    if (shop / s.ITEMS_FILE).exists():
        console.print(f"[dim]reusing the generated shop in {shop}[/]")
        return shop
    gen = GeneratorConfig(
        users=config.users, interactions=config.interactions, days=config.days, seed=config.seed
    )
    with console.status(
        f"generating {gen.users:,} users, {gen.interactions:,} interactions over {gen.days} days"
    ):
        summary = generate(gen, shop)
    console.print(
        f"generated {summary.interactions:,} interactions and {summary.impressions:,} impressions "
        f"for {summary.users:,} users and {summary.items:,} items in {shop}"
    )
    return shop


def ensure_canonical(shop: Path, config: DemoConfig, console: Console) -> Path:
    canonical = config.workdir / "canonical"
    if (canonical / s.ITEMS_FILE).exists():
        return canonical
    with console.status("validating and ingesting into the canonical dataset"):
        summary = ingest(shop, canonical)
    console.print(f"ingested {summary.interactions:,} rows over {len(summary.days)} days into {canonical}")
    return canonical


def interactions_table(canonical: Path) -> pa.Table:
    table = open_interactions(canonical).to_table(columns=[s.USER_ID, s.ITEM_ID, s.TIMESTAMP, s.CLICKED])
    return table.filter(table[s.CLICKED])


def load_popularity(table: pa.Table, items: pa.Table, popularity: Popularity, shift: int = 0) -> int:
    """Replay history into the decayed popularity sets, aggregated per item and UTC day.

    `shift` moves the history in time (the demo replays it as if it ended now).
    """
    category = dict(zip(items[s.ITEM_ID].to_pylist(), items[s.CATEGORY_L1].to_pylist(), strict=True))
    days = pc.divide(table[s.TIMESTAMP], s.SECONDS_PER_DAY)
    keyed = pa.table({"day": days, s.ITEM_ID: pc.cast(table[s.ITEM_ID], pa.string())})
    counts = keyed.group_by(["day", s.ITEM_ID]).aggregate([([], "count_all")])
    written = 0
    for day in sorted(set(counts["day"].to_pylist())):
        rows = counts.filter(pc.equal(counts["day"], day))
        events = [
            (item, category.get(item), float(n))
            for item, n in zip(rows[s.ITEM_ID].to_pylist(), rows["count_all"].to_pylist(), strict=True)
        ]
        popularity.record_many(events, at=(day + 1) * s.SECONDS_PER_DAY - 1 + shift)
        written += len(events)
    return written


def most_active_user(table: pa.Table, since: int) -> str:
    recent = table.filter(pc.and_(pc.greater_equal(table[s.TIMESTAMP], since), pc.is_valid(table[s.USER_ID])))
    counts = (
        pa.table({s.USER_ID: pc.cast(recent[s.USER_ID], pa.string())})
        .group_by(s.USER_ID)
        .aggregate([([], "count_all")])
    )
    return str(counts[s.USER_ID][int(np.argmax(counts["count_all"].to_numpy()))])


def recent_items(table: pa.Table, user: str, since: int) -> list[str]:
    mine = table.filter(
        pc.and_(
            pc.equal(pc.cast(table[s.USER_ID], pa.string()), user),
            pc.greater_equal(table[s.TIMESTAMP], since),
        )
    )
    return sorted(set(pc.cast(mine[s.ITEM_ID], pa.string()).to_pylist()))


def ask(server: TritonServer, user: str, device: str, at: int, k: int) -> Homepage:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    values = [
        ("USER_ID", np.array([user.encode()], dtype=np.object_), "BYTES"),
        ("DEVICE", np.array([device.encode()], dtype=np.object_), "BYTES"),
        ("TIMESTAMP", np.array([at], dtype=np.int64), "INT64"),
        ("NUM_ITEMS", np.array([k], dtype=np.int32), "INT32"),
    ]
    inputs = []
    for name, value, dtype in values:
        tensor = grpcclient.InferInput(name, list(value.shape), dtype)
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    start = time.perf_counter()
    result = client.infer(ENSEMBLE, inputs)
    latency = (time.perf_counter() - start) * 1000
    return Homepage(
        user=user,
        device=device or "(missing)",
        item_ids=[i.decode() for i in result.as_numpy("ITEM_IDS")],
        scores=[float(x) for x in result.as_numpy("SCORES")],
        filter_skipped=bool(result.as_numpy("FILTER_SKIPPED")[0]),
        latency_ms=latency,
    )


def ensure_trained(config: DemoConfig, shop: Path, console: Console) -> Path:
    """Run the initial KFP pipeline (kfp.local) on the shop once; returns the published version."""
    versions = config.workdir / "versions"
    published = sorted((int(p.name) for p in versions.glob("*") if p.name.isdigit()), reverse=True)
    if published:
        console.print(f"[dim]reusing trained model version {published[0]} in {versions}[/]")
        return versions / str(published[0])
    pipeline_config = PipelineConfig(
        recommender="demo",
        data_sources=DataSourcesSpec(layout="seed", uri=str(shop)),
        artifact_root=str(config.workdir / "artifacts"),
        model_repository=str(versions),
    )
    runner = LocalRunner(config.workdir / "runs")
    run_id = runner.submit("initial", {"config": pipeline_config.to_argument()}, run_name="demo-initial")
    started = time.monotonic()
    with console.status(
        "initial pipeline (kfp.local): data, transforms, embeddings, two-tower, index, DLRM"
    ) as spin:
        status = runner.wait(
            run_id,
            timeout_s=3600,
            on_poll=lambda s: spin.update(
                f"initial pipeline {s.state.lower()} for {time.monotonic() - started:.0f} s"
            ),
        )
    if status.state != "SUCCEEDED":
        raise RuntimeError(
            f"initial pipeline {status.state}: {status.error} (log: {runner.run_dir(run_id)}/run.log)"
        )
    metrics = status.outputs.get("metrics")
    values = metrics.get("metadata", {}) if isinstance(metrics, dict) else {}
    console.print(
        f"trained version {status.outputs.get('version')} in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{k} {float(v):.3f}" for k, v in values.items() if isinstance(v, float))
    )
    return versions / str(status.outputs["version"])


def ask_trained(recommender: TritonRecommender, user: str, device: str, k: int) -> Homepage:
    start = time.perf_counter()
    rec = recommender.recommend(RecommendationRequest(user_id=user, device=device, num_items=k))
    return Homepage(
        user=user,
        device=device or "(missing)",
        item_ids=rec.item_ids,
        scores=rec.scores,
        filter_skipped=rec.filter_skipped,
        latency_ms=(time.perf_counter() - start) * 1000,
    )


def homepage_table(page: Homepage, items: pa.Table, title: str, hidden: set[str] | None = None) -> Table:
    info = {
        row[s.ITEM_ID]: row for row in items.select([s.ITEM_ID, s.NAME, s.CATEGORY_L1, s.PRICE]).to_pylist()
    }
    flags = " [yellow]seen-filter skipped[/]" if page.filter_skipped else ""
    table = Table(
        title=f"{title}: {page.user} on {page.device}, {page.latency_ms:.1f} ms{flags}", title_justify="left"
    )
    for column in ("#", "name", "category", "price", "score"):
        table.add_column(column, justify="right" if column in {"#", "price", "score"} else "left")
    for rank, (item, score) in enumerate(zip(page.item_ids, page.scores, strict=True), 1):
        row = info.get(item, {})
        name = str(row.get(s.NAME) or item)
        table.add_row(
            str(rank), name, str(row.get(s.CATEGORY_L1, "")), f"{row.get(s.PRICE, 0.0):.2f}", f"{score:.1f}"
        )
    if hidden:
        names = sorted(str(info.get(item, {}).get(s.NAME) or item) for item in hidden)
        table.caption = f"hidden as seen: {', '.join(names)}"
    return table


def run_demo(config: DemoConfig, console: Console) -> list[Homepage]:
    toolchain = tc.discover()
    config.workdir.mkdir(parents=True, exist_ok=True)
    shop = ensure_shop(config, console)
    canonical = ensure_canonical(shop, config, console)
    console.print(render(compute_stats(canonical), canonical))
    version = ensure_trained(config, shop, console) if config.train else None

    items = pq.read_table(canonical / s.ITEMS_FILE)
    history = interactions_table(canonical)
    end = int(pc.max(history[s.TIMESTAMP]).as_py()) + 60
    clock = int(time.time())  # history is replayed as if it ended now
    window = SeenFilterConfig().window_days * s.SECONDS_PER_DAY

    with RedisServer(toolchain.redis_server, config.workdir / "redis") as store:
        console.print(f"[green]redis-server[/] on {store.url} (pid {store.process.pid})")
        client = connect(store.url, timeout_s=5.0)
        started = time.perf_counter()
        n = load_popularity(history, items, Popularity(client), shift=clock - end)
        user = most_active_user(history, since=end - s.SECONDS_PER_DAY)
        seen_items = recent_items(history, user, since=end - window)
        seen_filter = make_seen_filter(client)
        seen_filter.add(user, seen_items, clock - 1)
        console.print(
            f"loaded {n:,} popularity rows and {len(seen_items)} seen items of user {user} "
            f"({type(seen_filter).__name__}) in {time.perf_counter() - started:.1f} s"
        )
        if version is None:
            repo = build_repository(config.workdir / "models", MODELS, {"REDIS_URL": store.url})
        else:
            with console.status("building the 14-step model repository (validated in a real Triton first)"):
                repo = build_version_repository(
                    version, config.workdir / "serving", store.url, graphs=("ensemble",), toolchain=toolchain
                )
        with console.status("starting tritonserver"):
            server = TritonServer(toolchain, repo, config.workdir).start(timeout_s=300)
        try:
            console.print(
                f"[green]tritonserver[/] gRPC {server.grpc_url}, HTTP {server.http_url} (pid {server.process.pid})"
            )
            if version is None:
                path = f"cold-start ensemble {ENSEMBLE}"

                def page(who: str, device: str) -> Homepage:
                    return ask(server, who, device, clock, config.num_items)
            else:
                path = f"14-step ensemble homepage, model version {version.name}"
                trained = TritonRecommender(server.grpc_url, "homepage", timeout_s=10.0)

                def page(who: str, device: str) -> Homepage:
                    return ask_trained(trained, who, device, config.num_items)

            console.print(f"serving: {path}")
            pages = [page(user, "ios"), page(f"{s.ANONYMOUS_PREFIX}demo", "web"), page(NEW_USER, "")]
            for shown, title in zip(pages, ["registered user", "anonymous visitor", "new user"], strict=True):
                console.print(homepage_table(shown, items, title))
            clicked = pages[0].item_ids[0]
            seen_filter.add(user, [clicked], clock)
            after = page(user, "ios")
            console.print(homepage_table(after, items, f"after {user} viewed the top item", {clicked}))
            if clicked in after.item_ids:
                raise RuntimeError(f"{clicked} is still recommended after the user viewed it")
            pages.append(after)
        finally:
            server.stop()
    console.print("[bold green]demo finished[/]: servers stopped; data and models kept in", config.workdir)
    return pages
