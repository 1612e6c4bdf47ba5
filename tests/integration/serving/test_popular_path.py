"""The cold-start popularity path, as a function and through the real Triton ensemble."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import redis
import tritonclient.grpc as grpcclient

from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import make_seen_filter
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.toolchain import Toolchain
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.popular import recommend_popular
from recsys_workloads.serving.triton.pod_repository import render_pod_repository

ITEMS = [f"item-{i}" for i in range(20)]


def _seed_popularity(client: redis.Redis, at: float) -> None:
    # item-0 is the most popular, item-19 the least.
    Popularity(client).record_many([(item, "shoes", float(20 - i)) for i, item in enumerate(ITEMS)], at)


def test_popular_items_exclude_what_the_user_saw(redis_url: str) -> None:
    client = connect(redis_url)
    now = time.time()
    _seed_popularity(client, now)
    seen = make_seen_filter(client)
    seen.add("u1", ["item-0", "item-2"], now)
    recs = recommend_popular(Popularity(client), seen, "u1", now, k=5)
    assert recs.item_ids == ["item-1", "item-3", "item-4", "item-5", "item-6"]
    assert np.all(np.diff(recs.scores) <= 0)
    assert not recs.filter_skipped


def test_anonymous_visitors_get_plain_popularity(redis_url: str) -> None:
    client = connect(redis_url)
    now = time.time()
    _seed_popularity(client, now)
    make_seen_filter(client).add("anon-1", ["item-0"], now)
    recs = recommend_popular(Popularity(client), make_seen_filter(client), "anon-1", now, k=3)
    assert recs.item_ids == ["item-0", "item-1", "item-2"]


def _ask(
    server: TritonServer, user: str, device: str = "", ts: int = 0, k: int = 5
) -> grpcclient.InferResult:
    client = grpcclient.InferenceServerClient(server.grpc_url)
    inputs = []
    for name, value, dtype in [
        ("USER_ID", np.array([user.encode()], dtype=np.object_), "BYTES"),
        ("DEVICE", np.array([device.encode()], dtype=np.object_), "BYTES"),
        ("TIMESTAMP", np.array([ts], dtype=np.int64), "INT64"),
        ("NUM_ITEMS", np.array([k], dtype=np.int32), "INT32"),
    ]:
        tensor = grpcclient.InferInput(name, list(value.shape), dtype)
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    return client.infer("homepage_popular", inputs)


@pytest.fixture(scope="module")
def stack(
    toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, TritonServer]]:
    work = tmp_path_factory.mktemp("popular-stack")
    store = RedisServer(toolchain.redis_server, work / "redis").start()
    _seed_popularity(connect(store.url), time.time())
    # What a Triton pod starts from before any version is trained: its init container's repository
    # (no version), loaded as the Deployment loads it (explicit control, the popularity ensemble).
    repo = render_pod_repository(work / "models", None, store.url)
    server = TritonServer(toolchain, repo, work, model_control="explicit", load_models=["homepage_popular"])
    server.start()
    try:
        yield store, server
    finally:
        server.stop()
        store.stop()


def test_ensemble_hides_an_item_right_after_the_user_interacts(
    stack: tuple[RedisServer, TritonServer],
) -> None:
    store, server = stack
    before = [i.decode() for i in _ask(server, "u7", device="ios").as_numpy("ITEM_IDS")]
    assert before == ITEMS[:5]
    make_seen_filter(connect(store.url)).add("u7", [before[0]], time.time())
    after = _ask(server, "u7")
    assert [i.decode() for i in after.as_numpy("ITEM_IDS")] == ITEMS[1:6]
    assert not after.as_numpy("FILTER_SKIPPED")[0]


def test_ensemble_fills_missing_context(stack: tuple[RedisServer, TritonServer]) -> None:
    _, server = stack
    result = _ask(server, "u8", device="", ts=0)
    assert result.as_numpy("DEVICE_NAME")[0] == b"unknown"
    assert len(result.as_numpy("ITEM_IDS")) == 5


def test_ensemble_keeps_serving_flagged_when_valkey_goes_down(
    stack: tuple[RedisServer, TritonServer],
) -> None:
    store, server = stack
    store.stop()
    try:
        result = _ask(server, "u9", k=3)
        assert [i.decode() for i in result.as_numpy("ITEM_IDS")] == ITEMS[:3]
        assert result.as_numpy("FILTER_SKIPPED")[0]
    finally:
        store.start()
