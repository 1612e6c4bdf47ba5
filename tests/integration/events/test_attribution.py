"""Events naming a recommendation_id, through the real event service, credited to experiment arms."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import redis

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.contracts.experiment import ArmCounters, ResolvedArm, ResolvedExperiment
from recsys_workloads.events.client import EventClient
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.experiments.homepage_log import HomepageLog, ServedHomepage
from recsys_workloads.online.client import connect
from tests.integration.events.conftest import MakeConfig

Serve = Callable[[EventServiceConfig], tuple[ThreadedServer, EventClient]]
EXPERIMENT = ResolvedExperiment(
    name="exp",
    arms=[
        ResolvedArm(name="model", version=2, weight=50, ensemble="homepage"),
        ResolvedArm(name="popular", version=None, weight=50, ensemble="homepage_popular"),
    ],
    attribution_window_s=600,
)


def counters(store: redis.Redis, arm: str) -> ArmCounters:
    raw = cast(dict[bytes, bytes], store.hgetall(keys.arm_counters_key("exp", arm)))
    return ArmCounters.from_hash({k.decode(): v.decode() for k, v in raw.items()})


def shown(store: redis.Redis, rid: str, arm: int, visitor: str, items: list[str], at: float) -> None:
    log = HomepageLog(store, EXPERIMENT)
    log.add(ServedHomepage(rid, EXPERIMENT.arms[arm], visitor, items, at, 0.004, failed=False))
    assert log.flush() == 1


def view(
    n: int, item: str, rid: str | None, event_type: str = "View", user: str = "u1", **more: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "event_id": f"e{n}",
        "user_id": user,
        "item_id": item,
        "event_type": event_type,
        **more,
    }
    if rid is not None:
        body["recommendation_id"] = rid
    return body


def test_goal_events_on_shown_items_count_for_the_arm_once_per_homepage(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    store = connect(redis_url)
    now = time.time()
    shown(store, "r1", 0, "u1", ["i1", "i2", "i3"], now - 30)
    shown(store, "r2", 1, "anon-s1", ["i4", "i5"], now - 30)
    _, client = serve(make_config(redis_url))
    batch = [
        view(1, "i1", "r1"),  # attributed: first click of r1
        view(2, "i2", "r1"),  # attributed: another click, same homepage
        view(3, "i2", "r1", "AddToCart"),
        view(4, "i6", "r1"),  # not on the homepage
        view(5, "i1", "r1", user="u2"),  # someone else's homepage
        view(6, "i1", "unknown"),  # never served (or expired)
        view(7, "i3", None),  # no recommendation id: not attributed, still applied
        view(8, "i1", "r1", "Impression"),  # not a goal
        {
            "event_id": "e9",
            "anonymous_id": "anon-s1",
            "item_id": "i4",
            "event_type": "View",
            "recommendation_id": "r2",
        },
    ]
    answer = client.post_events({"events": batch})
    assert answer.status == 200 and answer.body["accepted"] == len(batch), answer.body
    again = client.post_events(view(1, "i1", "r1"))  # a retried event is a duplicate: not counted again
    assert again.body["duplicates"] == 1

    model, popular = counters(store, "model"), counters(store, "popular")
    assert (model.homepages, model.goal_homepages["click"], model.goal_events["click"]) == (1, 1, 2)
    assert (model.goal_homepages["addToCart"], model.goal_events["addToCart"]) == (1, 1)
    assert model.goal_homepages["purchase"] == 0
    assert (popular.homepages, popular.goal_homepages["click"]) == (1, 1)
    assert model.latency_buckets[5] == 1  # 4 ms

    text = answer_text(client)
    for outcome, n in (("attributed", 4), ("not_shown", 1), ("other_visitor", 1), ("expired", 1)):
        assert f'recsys_event_attributions_total{{outcome="{outcome}"}} {n}.0' in text, outcome


def test_events_dated_before_the_homepage_are_not_credited_and_records_expire_with_the_window(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    store = connect(redis_url)
    now = time.time()
    shown(store, "r1", 0, "u1", ["i1", "i2"], now - 120)
    _, client = serve(make_config(redis_url))
    too_early = view(1, "i1", "r1", timestamp=int(now) - 600)
    assert client.post_events(too_early).status == 200
    assert counters(store, "model").goal_events.get("click", 0) == 0
    record = keys.recommendation_key("r1")
    assert 0 < cast(int, store.ttl(record)) <= EXPERIMENT.attribution_window_s


def test_a_store_error_during_attribution_still_acknowledges_the_events(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    """Attribution runs after the events are durable: it is a report, not the event's fate."""
    store = connect(redis_url)
    store.set(keys.recommendation_key("r1"), "not a hash")  # WRONGTYPE for HMGET
    _, client = serve(make_config(redis_url))
    answer = client.post_events(view(1, "i1", "r1"))
    assert answer.status == 200 and answer.body["accepted"] == 1
    assert store.zscore(keys.recent_items_key("u1"), "i1") is not None  # the online effects happened
    text = answer_text(client)
    assert 'recsys_event_attributions_total{outcome="store_error"} 1.0' in text


def answer_text(client: EventClient) -> str:
    return str(client.request("GET", "/metrics").body["text"])
