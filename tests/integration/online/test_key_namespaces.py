"""Recommenders sharing one Valkey: each writes under its namespace and deleting one removes only its keys."""

from __future__ import annotations

import time

import pytest
import redis

from recsys_operator.adapters.valkey import delete_namespace
from recsys_workloads.contracts import keys
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import make_seen_filter


def _write_state(client: redis.Redis, user: str) -> None:
    now = time.time()
    make_seen_filter(client, SeenFilterConfig()).add(user, ["item-1", "item-2"], now)
    Popularity(client).record_many([("item-1", "shoes", 1.0)], now)
    client.zadd(keys.recent_items_key(user), {"item-1": now})
    client.set(keys.top_category_key(user), "shoes")


def test_deleting_one_recommender_leaves_the_others_and_unprefixed_keys(
    real_client: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_client.flushdb()
    for namespace in ("shop/homepage", "shop/homepage-b", "other/homepage"):
        monkeypatch.setenv(keys.NAMESPACE_ENV, namespace)
        _write_state(real_client, "u1")
    monkeypatch.delenv(keys.NAMESPACE_ENV)
    _write_state(real_client, "u1")
    before = {k.decode() for k in real_client.scan_iter(count=1000)}
    mine = {k for k in before if k.startswith("shop/homepage:")}
    assert len(mine) >= 5  # seen filter, two popularity sets, recent items, top category

    assert delete_namespace(redis_url, "shop/homepage") == len(mine)

    after = {k.decode() for k in real_client.scan_iter(count=1000)}
    assert after == before - mine
    assert any(k.startswith("shop/homepage-b:") for k in after)  # a name that extends it is another one
    assert any(k.startswith("seen:") for k in after)


def test_the_namespace_pattern_escapes_glob_characters() -> None:
    assert keys.namespace_pattern("a*b/c?[x]") == "a\\*b/c\\?\\[x\\]:*"
    with pytest.raises(ValueError, match="every key"):
        keys.namespace_pattern("")
