"""The in-process path (the same step functions, no Triton): degraded paths and backfill."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.features.tables import load_users
from recsys_workloads.online import seen_filter
from recsys_workloads.online.client import connect
from recsys_workloads.online.seen_filter import BitmapSeenFilter, make_seen_filter
from recsys_workloads.serving.item_cache import ItemCache
from recsys_workloads.serving.recommender import RecommendationRequest, Recommender
from recsys_workloads.serving.user_lookup import UserProfiles, lookup_user

from .conftest import seed_popularity


def test_a_fully_seen_candidate_set_is_backfilled_from_popularity(
    serving_version: Path, redis_url: str
) -> None:
    popular = seed_popularity(redis_url, serving_version)
    rec = Recommender(serving_version, redis_url, ServingGraphConfig(retrieval_top_k=5))
    first = rec.recommend(RecommendationRequest("anon-heavy", "web", 0, 5))
    make_seen_filter(connect(redis_url)).add("anon-heavy", first.item_ids, time.time())
    answer = rec.recommend(RecommendationRequest("anon-heavy", "web", 0, 5))
    assert len(answer.item_ids) == 5
    assert not set(answer.item_ids) & set(first.item_ids)
    assert set(answer.item_ids) <= set(popular)


def test_without_valkey_every_visitor_still_gets_a_flagged_page(serving_version: Path) -> None:
    rec = Recommender(serving_version, "redis://127.0.0.1:9/0")
    answer = rec.recommend(RecommendationRequest("someone", "", 0, 7))
    assert len(set(answer.item_ids)) == 7 and answer.filter_skipped and answer.cold_start


def test_item_cache_lookup_is_much_faster_than_the_step_budget(serving_version: Path) -> None:
    cache = ItemCache.load(serving_version)
    rows = cache.rows(cache.item_ids[:300].tolist())
    start = time.perf_counter()
    for _ in range(100):
        cache.item_features(rows)
        cache.content(rows)
    assert (time.perf_counter() - start) / 100 < 0.002


def test_user_lookup_reads_the_event_services_recent_items_and_top_category(
    serving_version: Path, redis_url: str
) -> None:
    client = connect(redis_url)
    items = ItemCache.load(serving_version).item_ids[:7].tolist()
    client.zadd(keys.recent_items_key("anon-r"), {item: 1_000 + i for i, item in enumerate(items)})
    client.set(keys.top_category_key("anon-r"), "shoes")
    user = lookup_user(client, "anon-r", 5)
    assert user.recent_items == items[::-1][:5] and user.top_category == "shoes"
    rec = Recommender(serving_version, redis_url)
    with_history = rec.recommend(RecommendationRequest("anon-r", "web", 1_763_800_000, 10))
    without = rec.recommend(RecommendationRequest("anon-none", "web", 1_763_800_000, 10))
    assert with_history.item_ids != without.item_ids


def test_seen_filter_answers_the_same_by_fetched_bitmaps_lua_and_precomputed_positions(
    serving_version: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ItemCache.load(serving_version)
    seen = make_seen_filter(connect(redis_url))
    assert isinstance(seen, BitmapSeenFilter)
    now = time.time()
    ids = cache.item_ids[:300].tolist()
    for day, chunk in enumerate((ids[0:20], ids[40:60], ids[100:101])):  # three live day filters
        seen.add("parity-user", chunk, now - day * keys.SECONDS_PER_DAY)
    positions = cache.seen_positions(seen.bits, seen.hashes)[:300]
    fetched = seen.contains("parity-user", ids, now)
    precomputed = seen.contains_positions("parity-user", positions, now)
    monkeypatch.setattr(seen_filter, "MGET_MAX_BYTES", 0)  # filters too large to fetch: Lua
    lua = seen.contains("parity-user", ids, now)
    assert fetched.tolist() == precomputed.tolist() == lua.tolist()
    assert fetched[[*range(20), *range(40, 60), 100]].all() and fetched.sum() < 60


def test_serving_reads_the_seen_filter_layout_the_spec_sets_not_the_default(
    serving_version: Path, redis_url: str
) -> None:
    """`spec.filtering` sizes the day filters the event service writes; serving must read the same."""
    layout = SeenFilterConfig(window_days=3, capacity=20_000)
    assert layout.sizing != SeenFilterConfig().sizing  # a different key layout, not only a label
    seed_popularity(redis_url, serving_version)
    configured = Recommender(serving_version, redis_url, ServingGraphConfig(seen_filter=layout))
    first = configured.recommend(RecommendationRequest("clicker", "web", 0, 5))
    make_seen_filter(connect(redis_url), layout).add("clicker", first.item_ids[:1], time.time())
    after = configured.recommend(RecommendationRequest("clicker", "web", 0, 5))
    assert first.item_ids[0] not in after.item_ids and not after.filter_skipped
    # what serving did before the layout reached it: the default sizing misses the click
    default = Recommender(serving_version, redis_url, ServingGraphConfig())
    assert first.item_ids[0] in default.recommend(RecommendationRequest("clicker", "web", 0, 5)).item_ids


def test_user_lookup_serves_the_age_and_gender_the_ranker_trained_on(serving_version: Path) -> None:
    """Train/serve parity of the profile: serving's users.npz answers as training's `Users.attributes`."""
    users = load_users(serving_version.parents[1] / "canonical")
    profiles = UserProfiles.load(serving_version)
    asked = [*users.user_ids.tolist(), "nobody"]
    ages, genders = users.attributes(asked)
    served = [lookup_user(None, u, 5, profiles) for u in asked]
    np.testing.assert_array_equal([r.age for r in served], ages)  # NaN where training had NaN
    assert [r.gender for r in served] == genders
    assert len(profiles) == len(users.user_ids) and any(g is not None for g in genders)
    anonymous = lookup_user(None, "anon-x", 5, profiles)
    assert math.isnan(anonymous.age) and anonymous.gender is None
    assert UserProfiles.load(serving_version.parent).get(str(users.user_ids[0]))[1] is None  # no users.npz
