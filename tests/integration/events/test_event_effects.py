"""POST /events against a real redis-server: every online effect is visible when the answer arrives."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pyarrow.dataset as ds
import pytest
import redis

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.data import schema as s
from recsys_workloads.data.ingest import open_interactions
from recsys_workloads.events.client import EventClient
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import make_seen_filter
from tests.integration.events.conftest import MakeConfig

Serve = Callable[[EventServiceConfig], tuple[ThreadedServer, EventClient]]


def event(
    event_id: str, item: str, event_type: str = "View", user: str = "u1", **extra: object
) -> dict[str, object]:
    return {"event_id": event_id, "user_id": user, "item_id": item, "event_type": event_type, **extra}


def test_an_acknowledged_view_is_already_in_filter_recent_items_top_category_and_popularity(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    config = make_config(redis_url)
    _, client = serve(config)
    now = time.time()
    for n, item in enumerate(["i1", "i3", "i4"]):
        answer = client.post_events(event(f"e{n}", item, device="ios", timestamp=int(now) - 10 + n))
        assert answer.status == 200, answer.body
        assert answer.body["accepted"] == 1

    store = connect(redis_url)
    assert make_seen_filter(store, config.seen_filter).contains(
        "u1", ["i1", "i3", "i4", "i2"], now
    ).tolist() == [
        True,
        True,
        True,
        False,
    ]
    # redis-py types its sync commands as `Awaitable | Any` (shared with the async client).
    recent = [m.decode() for m in cast(list[bytes], store.zrevrange(keys.recent_items_key("u1"), 0, -1))]
    assert recent == ["i4", "i3", "i1"]
    assert store.get(keys.top_category_key("u1")) == b"books"
    assert 0 < cast(int, store.ttl(keys.recent_items_key("u1"))) <= config.recent_ttl_s
    popularity = Popularity(store, config.popularity)
    assert {item for item, _ in popularity.top(10, now)} == {"i1", "i3", "i4"}
    assert [item for item, _ in popularity.top(10, now, category="books")] != []
    assert {item for item, _ in popularity.top(10, now, category="shoes")} == {"i1"}


def test_a_retried_event_id_is_applied_once_and_answered_duplicate(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    _, client = serve(make_config(redis_url))
    first = client.post_events(event("same-id", "i6"))
    retry = client.post_events(event("same-id", "i6"))
    in_batch = client.post_events({"events": [event("same-id", "i6"), event("other", "i6")]})

    assert first.body["accepted"] == 1
    assert retry.status == 200 and retry.body["results"] == [{"event_id": "same-id", "status": "duplicate"}]
    assert [r["status"] for r in in_batch.body["results"]] == ["duplicate", "accepted"]
    store = redis.Redis.from_url(redis_url)
    top = Popularity(store).top(1, time.time())
    assert [item for item, _ in top] == ["i6"]
    assert top[0][1] == pytest.approx(2.0, rel=1e-3)
    metrics = client.request("GET", "/metrics").body["text"]
    assert 'recsys_events_total{event_type="View",outcome="duplicate"} 2.0' in metrics
    assert 'recsys_events_total{event_type="View",outcome="accepted"} 2.0' in metrics


def test_impressions_are_logged_but_change_no_online_state(
    redis_url: str, make_config: MakeConfig, serve: Serve, tmp_path: Path
) -> None:
    config = make_config(redis_url)
    server, client = serve(config)
    answer = client.post_events(event("imp-1", "i2", "Impression", user="u9"))
    assert answer.status == 200 and answer.body["accepted"] == 1
    store = redis.Redis.from_url(redis_url)
    assert not make_seen_filter(store).contains("u9", ["i2"], time.time()).any()
    assert store.exists(keys.recent_items_key("u9"), keys.top_category_key("u9")) == 0
    assert Popularity(store).top(5, time.time()) == []

    server.stop()  # graceful: the WAL is flushed to parquet
    rows = open_interactions(config.log_dir).to_table().to_pylist()
    assert [(r[s.USER_ID], r[s.EVENT_TYPE], r[s.CLICKED]) for r in rows] == [("u9", "Impression", False)]


def test_anonymous_visitors_get_their_own_state_and_log_rows_without_user_id(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    config = make_config(redis_url)
    server, client = serve(config)
    payload = {"event_id": "a1", "anonymous_id": "anon-77", "item_id": "i5", "event_type": "AddToCart"}
    assert client.post_events(payload).status == 200
    store = redis.Redis.from_url(redis_url)
    assert make_seen_filter(store).contains("anon-77", ["i5"], time.time()).tolist() == [True]
    server.stop()
    table = ds.dataset(config.log_dir / s.INTERACTIONS_DIR, format="parquet", partitioning="hive").to_table()
    row = table.to_pylist()[0]
    assert (row[s.USER_ID], row[s.ANONYMOUS_ID], row[s.DEVICE_TYPE]) == (None, "anon-77", None)
    assert table.schema.field(s.ITEM_ID).type == s.INTERACTIONS_SCHEMA.field(s.ITEM_ID).type


def test_invalid_requests_get_a_4xx_and_change_nothing(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    _, client = serve(make_config(redis_url, limits={"max_batch": 2}))
    too_many = client.post_events({"events": [event(f"b{i}", "i1") for i in range(3)]})
    unknown_type = client.post_events(event("x1", "i1", "Like"))
    unknown_item = client.post_events(event("x2", "nope"))
    not_json = client.request("POST", "/events", None)

    assert too_many.status == 413 and "at most 2" in too_many.body["errors"][0]
    assert unknown_type.status == 422 and unknown_type.body["errors"][0].startswith("event_type:")
    assert unknown_item.status == 422 and "unknown item" in unknown_item.body["errors"][0]
    assert not_json.status == 422
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_openapi_documents_both_body_shapes_and_the_error_answers(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    _, client = serve(make_config(redis_url))
    spec = client.request("GET", "/openapi.json").body
    post = spec["paths"]["/events"]["post"]
    refs = {
        option["$ref"] for option in post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    }
    assert refs == {"#/components/schemas/Event", "#/components/schemas/EventBatch"}
    assert {"200", "409", "413", "422", "503"} <= set(post["responses"])
    assert "Impression" in spec["components"]["schemas"]["Event"]["properties"]["event_type"]["enum"]
    assert client.request("GET", "/healthz").status == 200
    assert client.request("GET", "/readyz").status == 200
