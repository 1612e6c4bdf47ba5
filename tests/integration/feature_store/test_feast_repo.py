"""Feast on a tiny generated shop: apply, materialise into the real redis-server, read online.

Feast is slow (apply and materialise take seconds), so one module-scoped store serves every test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from recsys_workloads import feature_store as fs
from recsys_workloads.contracts.keys import RECENT_KEPT
from recsys_workloads.data import schema as s
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest, open_interactions
from recsys_workloads.online.top_category import top_category
from recsys_workloads.runtime import toolchain
from recsys_workloads.runtime.redis_server import RedisServer

DIM = 8


USER_FEATURES = [
    "user_profile:age",
    "user_profile:gender",
    "user_profile:top_category",
    "user_recent_items:recent_items",
]
GUEST = "guest-checkout-7"  # in the interactions, not in users.parquet (as real logs have)


def _click_as_a_user_without_a_profile(day_file: Path, user: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pq.read_table(day_file)
    first_click = pc.index(pc.cast(table[s.EVENT_TYPE], pa.string()), "View").as_py()
    users = pc.cast(table[s.USER_ID], pa.string()).to_pylist()
    users[first_click] = user
    position = table.schema.get_field_index(s.USER_ID)
    pq.write_table(table.set_column(position, s.USER_ID, pa.array(users, pa.string())), day_file)


@dataclass
class Shop:
    dataset: Path
    config: fs.FeatureStoreConfig
    store: Any
    item_ids: list[str]
    embeddings: np.ndarray


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    root = tmp_path_factory.mktemp("feast")
    generate(GeneratorConfig(users=200, interactions=3_000, days=3, images=False), root / "raw")
    _click_as_a_user_without_a_profile(root / "raw" / "day_00.parquet", GUEST)
    ingest(root / "raw", root / "canonical")  # the default policy keeps GUEST, profile-less
    items = pq.read_table(root / "canonical" / s.ITEMS_FILE).column(s.ITEM_ID).to_pylist()
    vectors = np.random.default_rng(0).standard_normal((len(items), DIM)).astype(np.float32)
    with RedisServer(toolchain.discover().redis_server, root / "valkey") as valkey:
        config = fs.local_config(
            "127.0.0.1", valkey.port, root / "features", root / "repo" / "registry.db", embedding_dim=DIM
        )
        as_of = dt.datetime(2026, 1, 8, tzinfo=dt.UTC)
        written = fs.build_feature_tables(
            root / "canonical", root / "features", as_of, config, (items, vectors)
        )
        assert sorted(written) == sorted(fs.FEATURE_VIEWS)
        store = fs.apply(root / "repo", config)
        fs.materialize(store, as_of + dt.timedelta(seconds=1), config)
        yield Shop(root / "canonical", config, store, items, vectors)


def test_the_rendered_config_points_feast_at_the_test_server_with_a_connection_string(shop: Shop) -> None:
    text = (shop.store.repo_path / fs.FEATURE_STORE_FILE).read_text()
    assert f"connection_string: 127.0.0.1:{shop.config.online_store.port},db=0" in text  # type: ignore[union-attr]
    assert {fv.name for fv in shop.store.list_feature_views()} == set(fs.FEATURE_VIEWS)


def test_a_user_gets_profile_top_category_and_recent_items_online(shop: Shop) -> None:
    events = open_interactions(shop.dataset).to_table().to_pylist()
    clicked = [e for e in events if e[s.CLICKED] and e[s.USER_ID] is not None]
    user = Counter(e[s.USER_ID] for e in clicked).most_common(1)[0][0]
    mine = sorted((e for e in clicked if e[s.USER_ID] == user), key=lambda e: -e[s.TIMESTAMP])
    users = pq.read_table(shop.dataset / s.USERS_FILE).to_pylist()
    profile = next(u for u in users if u[s.USER_ID] == user)

    got = fs.online_features(shop.store, USER_FEATURES, [{"user_id": user}])

    assert got["age"] == [profile[s.AGE]] and got["gender"] == [profile[s.GENDER]]
    items = {i[s.ITEM_ID]: i for i in pq.read_table(shop.dataset / s.ITEMS_FILE).to_pylist()}
    # the online rule (features.history): the top category among the RECENT_KEPT newest distinct items
    last: dict[str, int] = {}
    for e in mine:
        last[e[s.ITEM_ID]] = max(e[s.TIMESTAMP], last.get(e[s.ITEM_ID], 0))
    kept = sorted(sorted(last, reverse=True), key=lambda i: -last[i])[:RECENT_KEPT]
    assert got["top_category"] == [top_category(kept, lambda i: items[i][s.CATEGORY_L1])]
    assert got["recent_items"][0][0] == mine[0][s.ITEM_ID]
    assert len(got["recent_items"][0]) == min(shop.config.recent_items, len({e[s.ITEM_ID] for e in mine}))


def test_items_get_attributes_popularity_and_their_exact_embedding_online(shop: Shop) -> None:
    items = pq.read_table(shop.dataset / s.ITEMS_FILE).to_pylist()
    picked = [0, 7, len(items) - 1]
    got = fs.online_features(
        shop.store,
        [
            "item_attributes:category_l1",
            "item_attributes:price",
            "item_popularity:rank_global",
            "item_embeddings:embedding",
        ],
        [{"item_id": items[i][s.ITEM_ID]} for i in picked],
    )
    assert got["category_l1"] == [items[i][s.CATEGORY_L1] for i in picked]
    assert got["price"] == pytest.approx([items[i][s.PRICE] for i in picked])
    assert all(1 <= r <= len(items) for r in got["rank_global"])
    np.testing.assert_array_equal(np.asarray(got["embedding"], np.float32), shop.embeddings[picked])


def test_an_unknown_user_gets_nulls_not_an_error(shop: Shop) -> None:
    got = fs.online_features(shop.store, ["user_profile:top_category"], [{"user_id": "nobody"}])
    assert got["top_category"] == [None]


def test_a_user_without_a_profile_gets_history_features_and_null_profile_online(shop: Shop) -> None:
    got = fs.online_features(shop.store, USER_FEATURES, [{"user_id": GUEST}])
    assert got["age"] == [None] and got["gender"] == [None]  # the cold-start masking path
    assert got["top_category"][0] is not None and len(got["recent_items"][0]) == 1
