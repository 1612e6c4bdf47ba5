"""The API under an experiment, against the real Triton of `homepage_stack` and its Valkey.

Arms: the trained model (the 14-step ensemble), the popularity path, and the fused graph as
a shadow (computed, never shown). What is checked is what the decision later reads: sticky
arms, tagged responses, and per-arm counters that match what was served.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.experiment import ArmCounters, ResolvedArm, ResolvedExperiment
from recsys_workloads.contracts.serving import ENSEMBLE, FUSED_ENSEMBLE, POPULAR_ENSEMBLE
from recsys_workloads.online.client import connect
from recsys_workloads.serving.api.app import ApiConfig

from .conftest import Stack, call, serve

EXPERIMENT = ResolvedExperiment(
    name="ranker",
    arms=[
        ResolvedArm(name="model", version=1, weight=50, ensemble=ENSEMBLE),
        ResolvedArm(name="popular", version=None, weight=50, ensemble=POPULAR_ENSEMBLE),  # the API's own path
        ResolvedArm(name="fused", version=1, weight=0, shadow=True, ensemble=FUSED_ENSEMBLE),
    ],
    attribution_window_s=600,
)
USERS = [str(u) for u in range(1, 121)]


@pytest.fixture(scope="module")
def api(homepage_stack: Stack) -> Iterator[str]:
    store = connect(homepage_stack.store.url)
    for arm in EXPERIMENT.arms:
        store.delete(keys.arm_counters_key(EXPERIMENT.name, arm.name))
    config = ApiConfig(
        triton_url=homepage_stack.triton.grpc_url,
        redis_url=homepage_stack.store.url,
        timeout_s=5,
        experiment=EXPERIMENT,
    )
    yield from serve(config)


def counters(store: redis.Redis, arm: str, experiment: str = EXPERIMENT.name) -> ArmCounters:
    raw = cast(dict[bytes, bytes], store.hgetall(keys.arm_counters_key(experiment, arm)))
    return ArmCounters.from_hash({k.decode(): v.decode() for k, v in raw.items()})


def homepage(api: str, user: str) -> dict[str, Any]:
    status, _, body = call(api, "/v1/recommendations", {"user_id": user, "num_items": 8})
    assert status == 200, body
    return cast(dict[str, Any], body)


def test_arms_are_sticky_tagged_and_counted_as_served(api: str, homepage_stack: Stack) -> None:
    first = {u: homepage(api, u) for u in USERS}
    again = {u: homepage(api, u) for u in USERS[:30]}
    assert all(again[u]["arm"] == first[u]["arm"] for u in again)
    arms = Counter(b["arm"] for b in first.values())
    assert set(arms) == {"model", "popular"}  # the shadow arm is never in a response
    assert 35 <= arms["model"] <= 85  # 120 fair coin flips: 99.9 % within
    ids = [b["recommendation_id"] for b in (*first.values(), *again.values())]
    assert len(set(ids)) == len(ids) and all(len(i) == 32 for i in ids)
    for body in first.values():
        assert body["experiment"] == "ranker" and not body["fallback"], body
        model = body["arm"] == "model"
        assert (body["version"], body["source"]) == ((1, "triton") if model else (None, "popularity"))
    popular = {tuple(b["item_ids"]) for b in first.values() if b["arm"] == "popular"}
    assert len(popular) <= 2  # one global list (minus seen items): not personalised
    assert len({tuple(b["item_ids"]) for b in first.values() if b["arm"] == "model"}) > 5

    store = connect(homepage_stack.store.url)
    served = Counter(b["arm"] for b in (*first.values(), *again.values()))
    total = sum(served.values())
    deadline = time.time() + 10
    while time.time() < deadline and counters(store, "fused").homepages < total:
        time.sleep(0.1)  # the flusher writes every 50 ms; shadow calls finish after their responses
    for arm in ("model", "popular"):
        got = counters(store, arm)
        assert (got.homepages, got.errors) == (served[arm], 0), arm
        assert sum(got.latency_buckets.values()) == served[arm]
    shadow = counters(store, "fused")
    assert shadow.homepages == total and shadow.errors == 0
    # The fused graph draws from the same model: on the model arm's homepages it agrees.
    assert 0 < shadow.overlap_milli <= 1000 * total

    rid = first[USERS[0]]["recommendation_id"]
    record = cast(dict[bytes, bytes], store.hgetall(keys.recommendation_key(rid)))
    assert record[b"arm"].decode() == first[USERS[0]]["arm"]
    assert record[b"items"].decode().split(" ") == first[USERS[0]]["item_ids"]
    assert record[b"visitor"] == USERS[0].encode()


def test_an_arm_whose_ensemble_fails_is_answered_by_the_fallback_and_counted_as_an_error(
    homepage_stack: Stack,
) -> None:
    broken = ResolvedExperiment(
        name="broken",
        arms=[ResolvedArm(name="missing", version=7, weight=100, ensemble="homepage__v7")],
        attribution_window_s=600,
    )
    store = connect(homepage_stack.store.url)
    store.delete(keys.arm_counters_key("broken", "missing"))
    config = ApiConfig(
        triton_url=homepage_stack.triton.grpc_url,
        redis_url=homepage_stack.store.url,
        timeout_s=5,
        experiment=broken,
    )
    for url in serve(config):
        body = homepage(url, "5")
        assert body["fallback"] and body["arm"] == "missing" and body["item_ids"]
    got = counters(store, "missing", "broken")  # the server's shutdown flushed the log
    assert (got.homepages, got.errors) == (1, 1)


def test_an_experiment_without_valkey_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="an experiment needs redis_url"):
        ApiConfig(triton_url="127.0.0.1:1", experiment=EXPERIMENT)
