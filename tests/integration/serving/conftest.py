"""A tiny trained model version (built once per session) and one Triton serving both graphs."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from recsys_workloads.contracts.index import IndexConfig
from recsys_workloads.contracts.models import DlrmConfig, EmbeddingConfig, ModelsConfig, TwoTowerConfig
from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.models import artifacts
from recsys_workloads.models.export import export_version
from recsys_workloads.models.pipeline import train_version
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.runtime.ports import LOOPBACK, free_port
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.toolchain import Toolchain
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.api.app import ApiConfig, create_app
from recsys_workloads.serving.item_cache import ItemCache
from recsys_workloads.serving.recommender import Recommender
from recsys_workloads.serving.triton.repository import build_version_repository

CONFIG = ModelsConfig(
    two_tower=TwoTowerConfig(epochs=1),
    dlrm=DlrmConfig(epochs=1),
    embeddings=EmbeddingConfig(text_model="", image_model=""),
)
SERVING = ServingGraphConfig(category_cap=3)
# What a Triton-served copy of a trained version needs (training checkpoints and reports are not read).
TRAINING_ONLY = shutil.ignore_patterns(artifacts.TWO_TOWER_DIR, artifacts.DLRM_DIR, artifacts.EVALUATION_DIR)


def train_tiny_version(root: Path) -> Path:
    """Version 1 trained on a 300-user, 5-day shop, exported to ONNX; the shop is `root/canonical`.

    The session fixture `serving_version` (tests/conftest.py, shared with tests/e2e) calls it once.
    """
    generate(GeneratorConfig(users=300, interactions=20_000, days=5, images=False), root / "raw")
    ingest(root / "raw", root / "canonical")
    version = root / "versions" / "1"
    train_version(root / "canonical", version, CONFIG, IndexConfig())
    export_version(version, "onnx")
    return version


def scale_ranker_scores(version: Path, scale: float) -> None:
    """Append `Mul(score, scale)` to the exported ranker: order kept, every score changed.

    A copy of a version scaled so answers the same items with scores that tell which folder
    served them.
    """
    path = version / artifacts.EXPORT_DIR / artifacts.DLRM_ONNX
    model = onnx.load(str(path))
    graph = model.graph
    out = graph.output[0].name
    producer = next(n for n in graph.node if out in n.output)
    producer.output[list(producer.output).index(out)] = f"{out}_unscaled"
    graph.initializer.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), "rollout_scale"))
    graph.node.append(helper.make_node("Mul", [f"{out}_unscaled", "rollout_scale"], [out]))
    onnx.save(model, str(path))


def seed_popularity(url: str, version: Path) -> list[str]:
    """The first 50 catalog items, most popular first; returns them."""
    items = [str(i) for i in ItemCache.load(version).item_ids[:50].tolist()]
    Popularity(connect(url)).record_many(
        [(item, None, float(50 - i)) for i, item in enumerate(items)], time.time()
    )
    return items


@dataclass
class Stack:
    version: Path
    store: RedisServer
    triton: TritonServer
    inprocess: Recommender
    popular: list[str]


@pytest.fixture(scope="session")
def homepage_stack(
    serving_version: Path, toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("homepage-stack")
    store = RedisServer(toolchain.redis_server, work / "redis").start()
    popular = seed_popularity(store.url, serving_version)
    repo = build_version_repository(serving_version, work / "models", store.url, config=SERVING)
    server = TritonServer(toolchain, repo, work).start(timeout_s=300)
    try:
        yield Stack(serving_version, store, server, Recommender(serving_version, store.url, SERVING), popular)
    finally:
        server.stop()
        store.stop()


# The API on a real server without Triton (the fallback answers): the guard tests of both
# front doors use these.
def serve(config: ApiConfig, **kwargs: Any) -> Iterator[str]:
    """The API (`create_app(config, **kwargs)`) on a real uvicorn server; yields its URL once."""
    with ThreadedServer(create_app(config, **kwargs)) as server:
        yield server.url


def call(
    url: str, path: str, body: Any = None, token: str | None = None, raw: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST `body` as JSON (or `raw` bytes; GET when neither); returns status, headers and the
    body, parsed when it is JSON."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, got, text = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, got, text = exc.code, dict(exc.headers), exc.read()
    is_json = "json" in next((v for k, v in got.items() if k.lower() == "content-type"), "")
    return status, got, json.loads(text) if is_json else text


def no_triton(**fields: Any) -> ApiConfig:
    return ApiConfig.model_validate({"triton_url": f"{LOOPBACK}:{free_port()}", "timeout_s": 0.2, **fields})
