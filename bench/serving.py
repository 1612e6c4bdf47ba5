"""Benchmark the homepage request path: in-process vs the 14-step and fused Triton graphs.

Starts its own redis-server, Triton and `recsys api serve` (loopback, free ports). Reports
p50/p95/p99 and throughput at 1 and 8 clients of: a floor (a copy-only Python-backend model, the
cost of one Triton hop), both graphs over gRPC and the API over each (plus what the API adds,
paired per request); the in-process path and its per-step profile; the served DLRM export
against Keras' raw one (same run, same features); Triton's per-model compute/queue times (what
bounds a graph), and item features from the
in-memory cache vs per-request Valkey reads. The 50 known users get a live seen filter on
every day of the window (30 items a day), so step 7 tests real bitmaps. `--million` repeats
the latency runs on a synthetic 1M-item catalog (random item features and embeddings, IVF index).

    python bench/serving.py                       # trains a tiny version first (~1 min)
    python bench/serving.py --version V --million
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import tritonclient.grpc as grpcclient

from recsys_workloads.contracts.index import IndexConfig
from recsys_workloads.contracts.serving import ENSEMBLE_OF, ServingGraphConfig
from recsys_workloads.features import transform as ft
from recsys_workloads.index.item_index import ItemIndex
from recsys_workloads.models import artifacts
from recsys_workloads.models.export import export_model, ranking_model
from recsys_workloads.models.onnx_runner import OnnxModel
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import make_seen_filter
from recsys_workloads.runtime import toolchain as toolchain_mod
from recsys_workloads.runtime.ports import free_port, port_is_open
from recsys_workloads.runtime.process import ManagedProcess
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.graph import REQUEST_INPUTS, RESPONSE_OUTPUTS, STEPS
from recsys_workloads.serving.item_cache import ItemCache
from recsys_workloads.serving.ranking import UNROLLED_SUFFIX
from recsys_workloads.serving.recommender import RecommendationRequest, Recommender, request_tensors
from recsys_workloads.serving.resources import Resources
from recsys_workloads.serving.triton.client import TritonRecommender
from recsys_workloads.serving.triton.repository import build_version_repository
from recsys_workloads.serving.triton.templates import tensor_list
from recsys_workloads.vocab import ANONYMOUS_PREFIX

FLOOR = "floor"
# The floor: one Python-backend model with the homepage's inputs and outputs that only copies
# (the excluded ids back as items): what a Triton hop costs with none of our code in it.
FLOOR_MODEL_PY = """import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            ids = pb_utils.get_input_tensor_by_name(request, "EXCLUDE_ITEM_IDS").as_numpy()
            responses.append(pb_utils.InferenceResponse([
                pb_utils.Tensor("ITEM_IDS", ids),
                pb_utils.Tensor("SCORES", np.zeros(len(ids), dtype=np.float32)),
                pb_utils.Tensor("COLD_START", np.zeros(1, dtype=np.bool_)),
                pb_utils.Tensor("FILTER_SKIPPED", np.zeros(1, dtype=np.bool_)),
            ]))
        return responses
"""


def add_floor_model(repository: Path) -> None:
    model = repository / FLOOR
    (model / "1").mkdir(parents=True, exist_ok=True)
    (model / "1" / "model.py").write_text(FLOOR_MODEL_PY)
    (model / "config.pbtxt").write_text(
        f'name: "{FLOOR}"\nbackend: "python"\nmax_batch_size: 0\n'
        f"input [\n{tensor_list(REQUEST_INPUTS)}\n]\noutput [\n{tensor_list(RESPONSE_OUTPUTS)}\n]\n"
        "instance_group [ { kind: KIND_CPU count: 1 } ]\n"
    )


def train_tiny(work: Path) -> Path:
    from recsys_workloads.contracts.models import DlrmConfig, EmbeddingConfig, ModelsConfig, TwoTowerConfig
    from recsys_workloads.data.generator import GeneratorConfig, generate
    from recsys_workloads.data.ingest import ingest
    from recsys_workloads.models.export import export_version
    from recsys_workloads.models.pipeline import train_version

    generate(GeneratorConfig(users=300, interactions=20_000, days=5, images=False), work / "raw")
    ingest(work / "raw", work / "canonical")
    config = ModelsConfig(
        two_tower=TwoTowerConfig(epochs=1),
        dlrm=DlrmConfig(epochs=1),
        embeddings=EmbeddingConfig(text_model="", image_model=""),
    )
    train_version(work / "canonical", work / "v" / "1", config, IndexConfig())
    export_version(work / "v" / "1", "onnx")
    return work / "v" / "1"


def synthetic_version(base: Path, dest: Path, n: int, seed: int = 0) -> Path:
    """`base` with a random n-item catalog (features, content, embeddings) and an IVF index."""
    rng = np.random.default_rng(seed)
    shutil.copytree(base, dest, ignore=shutil.ignore_patterns("index", "items.npz", "item_embeddings.npy"))
    t = Resources(base).transforms
    ids = np.array([f"syn-{i:07d}" for i in range(n)])
    features: dict[str, Any] = {}
    for name in ft.ITEM_FEATURES:
        if name == ft.PRICE:
            features[name] = rng.standard_normal(n).astype(np.float32)
        else:
            features[name] = rng.integers(2, t.cardinality(name), n).astype(np.int64)
    dim = len(np.load(base / artifacts.ITEM_EMBEDDINGS_FILE, mmap_mode="r")[0])
    with np.load(base / artifacts.ITEMS_FILE) as items:
        for name in ft.CONTENT_FEATURES:
            features[name] = rng.standard_normal((n, items[name].shape[1])).astype(np.float32)
    artifacts.save_items(dest / artifacts.ITEMS_FILE, ids, features)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ItemIndex.build(vectors, IndexConfig(factory="IVF1024,Flat", nprobe=8)).save(dest / artifacts.INDEX_DIR)
    return dest


def percentiles(ms: list[float]) -> dict[str, float]:
    q = np.percentile(ms, [50, 95, 99])
    return {"p50": float(q[0]), "p95": float(q[1]), "p99": float(q[2])}


def requests(users: list[str], n: int) -> list[RecommendationRequest]:
    devices = ["web", "ios", "android", ""]
    return [
        RecommendationRequest(users[i % len(users)], devices[i % 4], 1_763_800_000 + i, 10) for i in range(n)
    ]


def run_clients(call: Callable[[int], Callable[[RecommendationRequest], object]], reqs: list[RecommendationRequest],
                clients: int, warmup: int = 30) -> dict[str, float]:  # fmt: skip
    """`call(client_index)` makes one client's callable; returns latency percentiles and req/s."""
    first = call(0)
    for r in reqs[:warmup]:
        first(r)
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        fn = first if index == 0 else call(index)
        mine = []
        for r in reqs[index::clients]:
            start = time.perf_counter()
            fn(r)
            mine.append((time.perf_counter() - start) * 1e3)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - started
    return {**percentiles(latencies), "rps": len(latencies) / elapsed, "clients": clients}


def triton_profile(url: str, ensemble: str) -> dict[str, dict[str, float]]:
    """Mean compute and queue ms per request per model, from Triton's statistics API."""
    client = grpcclient.InferenceServerClient(url)
    stats = client.get_inference_statistics(as_json=True)
    out = {}
    for m in stats.get("model_stats", []):
        count = int(m["inference_stats"]["success"].get("count", 0))
        if not count:
            continue
        s = m["inference_stats"]
        out[m["name"]] = {
            "total_ms": int(s["success"].get("ns", 0)) / count / 1e6,
            "compute_ms": sum(
                int(s[k].get("ns", 0)) for k in ("compute_input", "compute_infer", "compute_output")
            )
            / count
            / 1e6,
            "queue_ms": int(s["queue"].get("ns", 0)) / count / 1e6,
        }
    client.close()
    return out


def item_feature_sources(version: Path, url: str, rounds: int = 200) -> dict[str, dict[str, float]]:
    """300 items' features: cache rows vs one pipelined HGETALL per item from Valkey."""
    cache = ItemCache.load(version)
    client = connect(url, timeout_s=5)
    names = [*ft.ITEM_FEATURES, *ft.CONTENT_FEATURES]
    n = min(len(cache), 5_000)
    pipe = client.pipeline(transaction=False)
    for row in range(n):
        pipe.hset(
            f"bench:item:{cache.item_ids[row]}", mapping={k: cache.features[k][row].tobytes() for k in names}
        )
    pipe.execute()
    rng = np.random.default_rng(0)
    cache_ms, by_row_ms, store_ms = [], [], []
    for _ in range(rounds):
        rows = rng.choice(n, 300, replace=False)
        ids = cache.item_ids[rows].tolist()
        start = time.perf_counter()
        r = cache.rows(ids)
        cache.item_features(r)
        cache.content(r)
        cache_ms.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        cache.item_features(rows)  # what steps 8 and 10 do: FAISS gives rows, not ids
        cache.content(rows)
        by_row_ms.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for item in ids:
            pipe.hgetall(f"bench:item:{item}")
        got = pipe.execute()
        {
            k: np.stack([np.frombuffer(h[k.encode()], dtype=cache.features[k].dtype) for h in got])
            for k in names
        }
        store_ms.append((time.perf_counter() - start) * 1e3)
    return {
        "cache": percentiles(cache_ms),
        "cache_by_row": percentiles(by_row_ms),
        "valkey_per_request": percentiles(store_ms),
    }


def seed_seen_items(users: list[str], cache: ItemCache, url: str, days: int = 7, per_day: int = 30) -> None:
    """A live seen filter for every day of the window, so step 7 tests real bitmaps."""
    seen = make_seen_filter(connect(url))
    rng = np.random.default_rng(1)
    now = time.time()
    for day in range(days):
        for user in users:
            seen.add(user, cache.item_ids[rng.choice(len(cache), per_day)].tolist(), now - day * 86_400)


def step_profile(
    local: Recommender, reqs: list[RecommendationRequest], n: int
) -> dict[str, dict[str, float]]:
    """p50 and mean ms of each step over `n` warm requests (the in-process path's profile)."""
    spent: dict[str, list[float]] = {s.name: [] for s in STEPS}
    for i in range(n):
        for step, ms in local.timed(reqs[i % len(reqs)]).items():
            spent[step].append(ms)
    return {
        step: {"p50": float(np.percentile(ms, 50)), "mean": float(np.mean(ms))} for step, ms in spent.items()
    }


def dlrm_export_ab(
    version: Path,
    local: Recommender,
    request: RecommendationRequest,
    work: Path,
    rounds: int = 6,
    calls: int = 300,
) -> dict[str, Any]:
    """The served DLRM (simplified export) against Keras' raw tf2onnx export, interleaved, on the
    features one real request ranks; scores must be bit-identical."""
    raw_path = export_model(
        ranking_model(version / artifacts.DLRM_DIR), work / "dlrm.onnx", "onnx", simplify=False
    )
    served, raw = local.resources.ranker, OnnxModel(raw_path)
    t = local.run(request_tensors(request))
    features = {k: t[k + UNROLLED_SUFFIX] for k in ft.QUERY_FEATURES}
    features.update({k: t[k] for k in ft.ITEM_FEATURES + ft.CONTENT_FEATURES})
    if not np.array_equal(served(features), raw(features)):
        raise AssertionError("the simplified DLRM export scores differently from the raw export")
    medians: dict[str, list[float]] = {"raw": [], "served": []}
    for _ in range(rounds):
        for name, model in (("raw", raw), ("served", served)):
            ms = []
            for _ in range(calls):
                start = time.perf_counter()
                model(features)
                ms.append((time.perf_counter() - start) * 1e3)
            medians[name].append(float(np.percentile(ms, 50)))
    nodes = {
        name: len(onnx.load(str(p)).graph.node) for name, p in (("raw", raw_path), ("served", served.path))
    }
    return {
        "candidates": len(t["KEPT_ROWS"]),
        "p50_ms": {k: float(np.median(v)) for k, v in medians.items()},
        "rounds_p50_ms": medians,
        "nodes": nodes,
        "speedup": float(np.median(medians["raw"]) / np.median(medians["served"])),
    }


def bench_catalog(
    version: Path, work: Path, n_requests: int, label: str, profile_requests: int = 1_000
) -> dict[str, Any]:
    toolchain = toolchain_mod.discover()
    store = RedisServer(toolchain.redis_server, work / "redis").start()
    cache = ItemCache.load(version)
    Popularity(connect(store.url)).record_many(
        [(str(i), None, float(100 - k)) for k, i in enumerate(cache.item_ids[:100].tolist())], time.time()
    )
    users = [*Resources(version).transforms.vocabularies["user_id"].values[:50], "anon-a", "new-user", ""]
    seed_seen_items([str(u) for u in users[:50]], cache, store.url)
    reqs = requests([str(u) for u in users], n_requests)
    result: dict[str, Any] = {"catalog": label, "items": len(cache)}
    config = ServingGraphConfig()
    local = Recommender(version, store.url, config)
    result["in_process"] = run_clients(lambda _: local.recommend, reqs, 1)
    result["in_process_steps_ms"] = step_profile(local, reqs, profile_requests)
    result["dlrm_export"] = dlrm_export_ab(version, local, reqs[0], work / "raw-export")
    result["item_features_300"] = item_feature_sources(version, store.url)
    for graph, ensemble in ENSEMBLE_OF.items():
        repo = build_version_repository(version, work / f"models-{graph}", store.url, (graph,), config)
        add_floor_model(repo)
        server = TritonServer(toolchain, repo, work, model_control="explicit", load_models=[ensemble, FLOOR])
        started = time.perf_counter()
        server.start(timeout_s=600)
        result[f"{graph}_load_s"] = time.perf_counter() - started
        try:

            def make(
                _: int, url: str = server.grpc_url, model: str = ensemble
            ) -> Callable[[RecommendationRequest], object]:
                return TritonRecommender(url, model, timeout_s=30).recommend

            def floor(_: int, url: str = server.grpc_url) -> Callable[[RecommendationRequest], object]:
                return TritonRecommender(url, FLOOR, timeout_s=30).recommend

            result[graph] = {f"c{c}": run_clients(make, reqs, c) for c in (1, 8)}
            api = ApiProcess(server.grpc_url, ensemble, work / f"api-{graph}.log")
            try:
                result[f"api_{graph}"] = {f"c{c}": run_clients(api.client, reqs, c) for c in (1, 8)}
                result[f"api_{graph}_added_ms"] = paired_overhead(api.client(0), make(0), reqs)
            finally:
                api.stop()
            if FLOOR not in result:
                result[FLOOR] = {f"c{c}": run_clients(floor, reqs, c) for c in (1, 8)}
            result[f"{graph}_profile"] = triton_profile(server.grpc_url, ensemble)
        finally:
            server.stop()
    store.stop()
    return result


def paired_overhead(
    api: Callable[[RecommendationRequest], object],
    direct: Callable[[RecommendationRequest], object],
    reqs: list[RecommendationRequest],
) -> dict[str, float]:
    """What the API adds: each request through the API and straight to Triton back to back, so
    both see the same moment of a shared machine; percentiles of the per-request difference."""
    added = []
    for r in reqs:
        start = time.perf_counter()
        direct(r)
        middle = time.perf_counter()
        api(r)
        added.append((time.perf_counter() - middle - (middle - start)) * 1e3)
    q = np.percentile(added, [25, 50, 75])
    return {"p25": float(q[0]), "p50": float(q[1]), "p75": float(q[2])}


class ApiProcess:
    """`recsys api serve` (the real uvicorn app) in front of one Triton ensemble, on a free port."""

    def __init__(self, triton_url: str, model: str, log: Path) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "recsys_workloads.serving.api.cli", "serve", "--triton-url", triton_url,
                "--model", model, "--timeout-s", "30", "--port", str(self.port)]  # fmt: skip
        env = {**os.environ, "RECSYS_REDIS_URL": ""}
        self.process = ManagedProcess("recommendation API", argv, log, env=env, ports=[self.port])
        self.process.start()
        self.process.wait_ready(lambda: port_is_open(self.port), timeout_s=60)

    def client(self, _: int) -> Callable[[RecommendationRequest], object]:
        """One keep-alive HTTP connection per client thread, as a load balancer's would be."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

        def call(r: RecommendationRequest) -> object:
            body = {"num_items": r.num_items, "timestamp": r.timestamp, "device": r.device or None}
            if r.user_id.startswith(ANONYMOUS_PREFIX):
                body["session_id"] = r.user_id
            elif r.user_id:
                body["user_id"] = r.user_id
            connection.request(
                "POST", "/v1/recommendations", json.dumps(body), {"content-type": "application/json"}
            )
            response = connection.getresponse()
            payload = json.loads(response.read())
            if response.status != 200 or payload["source"] != "triton":
                raise RuntimeError(f"API answered {response.status}: {payload}")
            return payload

        return call

    def stop(self) -> None:
        self.process.stop()


def print_result(r: dict[str, Any]) -> None:
    print(f"\n== {r['catalog']} ({r['items']:,} items)")
    row = "{:<28} {:>8.2f} {:>8.2f} {:>8.2f} {:>8.1f}"
    print("{:<28} {:>8} {:>8} {:>8} {:>8}".format("path", "p50 ms", "p95 ms", "p99 ms", "req/s"))
    ip = r["in_process"]
    print(row.format("in-process, 1 client", ip["p50"], ip["p95"], ip["p99"], ip["rps"]))
    for graph in (FLOOR, *ENSEMBLE_OF, *(f"api_{g}" for g in ENSEMBLE_OF)):
        for c in ("c1", "c8"):
            x = r[graph][c]
            print(row.format(f"{graph}, {c[1:]} clients", x["p50"], x["p95"], x["p99"], x["rps"]))
    for graph in ENSEMBLE_OF:
        ratios = {c: r[graph][c]["p50"] / r[FLOOR][c]["p50"] for c in ("c1", "c8")}
        print(f"{graph} p50 / floor p50: 1 client {ratios['c1']:.1f}x, 8 clients {ratios['c8']:.1f}x")
        added = r[f"api_{graph}_added_ms"]
        print(f"the API over {graph} adds (paired, 1 client) p50 {added['p50']:.2f} ms "
              f"(p25 {added['p25']:.2f}, p75 {added['p75']:.2f})")  # fmt: skip
    print("in-process steps, p50 / mean ms:")
    for step, ms in r["in_process_steps_ms"].items():
        print(f"  {step:<22} {ms['p50']:7.3f} {ms['mean']:7.3f}")
    ab = r["dlrm_export"]
    print(f"DLRM over {ab['candidates']} candidates, p50 ms: raw tf2onnx export {ab['p50_ms']['raw']:.3f} "
          f"({ab['nodes']['raw']} nodes), served {ab['p50_ms']['served']:.3f} ({ab['nodes']['served']} nodes): "
          f"{ab['speedup']:.2f}x, same scores")  # fmt: skip
    for graph in ENSEMBLE_OF:
        prof = {k: round(v["compute_ms"], 3) for k, v in r[f"{graph}_profile"].items()}
        print(f"triton {graph} compute ms per model:", prof)
    items = r["item_features_300"]
    ratio = items["valkey_per_request"]["p50"] / items["cache"]["p50"]
    by_row = items["cache_by_row"]["p50"]
    print(f"300 item features by row (steps 8 + 10): {by_row:.3f} ms "
          f"({items['valkey_per_request']['p50'] / by_row:.0f}x faster than Valkey)")  # fmt: skip
    print(f"300 item features: cache p50 {items['cache']['p50']:.3f} ms, Valkey per request "
          f"{items['valkey_per_request']['p50']:.2f} ms ({ratio:.0f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--version", type=Path, help="trained + exported version (default: train a tiny one)")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--million", action="store_true", help="also a synthetic 1M-item catalog")
    parser.add_argument("--json", type=Path, help="write all results here")
    args = parser.parse_args()
    print("load average at start:", Path("/proc/loadavg").read_text().split()[:3])
    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        version = args.version or train_tiny(work / "shop")
        results = [bench_catalog(version, work / "small", args.requests, "generated shop")]
        print_result(results[-1])
        if args.million:
            big = synthetic_version(version, work / "million" / "1", 1_000_000)
            results.append(bench_catalog(big, work / "big", args.requests, "synthetic 1M"))
            print_result(results[-1])
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        print("load average:", Path("/proc/loadavg").read_text().split()[:3])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
