"""Online state replayed from a generated shop into the real redis-server, in the event service's formats."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pyarrow.compute as pc
import pytest
import redis

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import make_seen_filter
from recsys_workloads.online.top_category import top_category
from recsys_workloads.online.warmup import clicked_history, item_categories, warm_online_state
from recsys_workloads.serving.user_lookup import lookup_user


@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("warmup-shop")
    generate(GeneratorConfig(users=120, interactions=3_000, days=3, images=False), root / "raw")
    ingest(root / "raw", root / "canonical")
    return root / "canonical"


def test_recent_items_top_category_seen_items_and_popularity_match_the_history(
    canonical: Path, real_client: redis.Redis
) -> None:
    summary = warm_online_state(real_client, canonical, SeenFilterConfig(window_days=7), recent_items=5)
    history = clicked_history(canonical)
    assert summary.visitors == len(set(history["visitor"].drop_null().to_pylist()))
    assert summary.popularity_rows > 0

    counts = history.group_by("visitor").aggregate([([], "count_all")]).sort_by([("count_all", "descending")])
    user = str(counts["visitor"][0])
    mine = history.filter(pc.equal(history["visitor"], user))
    last: dict[str, int] = {}
    for item, at in zip(mine["item_id"].to_pylist(), mine["timestamp"].to_pylist(), strict=True):
        last[item] = max(at, last.get(item, 0))
    kept = sorted(sorted(last, reverse=True), key=lambda i: -last[i])[:5]  # equal times: ZREVRANGE order

    record = lookup_user(real_client, user, 5)
    assert record.recent_items == kept
    assert record.top_category == top_category(kept, item_categories(canonical).get)
    # redis-py types its sync commands as `Awaitable | Any` (shared with the async client).
    assert cast(int, real_client.ttl(keys.recent_items_key(user))) > 6 * 86_400

    seen = make_seen_filter(real_client, SeenFilterConfig(window_days=7))
    end = int(pc.max(history["timestamp"]).as_py())
    assert seen.contains(user, kept, at=end).all()

    top = Popularity(real_client).top(3, at=end)
    item_counts = (
        history.group_by("item_id").aggregate([([], "count_all")]).sort_by([("count_all", "descending")])
    )
    assert top[0][0] in item_counts["item_id"].to_pylist()[:10]
