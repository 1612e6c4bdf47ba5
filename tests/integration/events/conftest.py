"""A tiny catalog, configs pointing at the test redis-server, and a real service on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.data import schema as s
from recsys_workloads.events.app import create_app
from recsys_workloads.events.client import EventClient
from recsys_workloads.events.local_server import ThreadedServer

ORIGIN = 1_795_000_000 - 1_795_000_000 % 86_400
CATEGORIES = {"i1": "shoes", "i2": "shoes", "i3": "books", "i4": "books", "i5": "books", "i6": "toys"}


def write_items(path: Path) -> Path:
    n = len(CATEGORIES)
    table = pa.Table.from_pydict(
        {
            s.ITEM_ID: list(CATEGORIES),
            s.NAME: [None] * n,
            s.CATEGORY_L1: list(CATEGORIES.values()),
            s.CATEGORY_L2: ["x"] * n,
            s.PRICE: [1.0] * n,
            s.ITEM_GENDER: ["Any"] * n,
            s.PROMOTED: [False] * n,
            s.FIRST_DAY: [0] * n,
        },
        schema=s.ITEMS_SCHEMA,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return write_items(tmp_path / "shop" / s.ITEMS_FILE)


MakeConfig = Callable[..., EventServiceConfig]


@pytest.fixture
def make_config(catalog: Path, tmp_path: Path) -> MakeConfig:
    def make(redis_url: str, **overrides: Any) -> EventServiceConfig:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "catalog": catalog,
            "log_dir": tmp_path / "events",
            "day_origin_timestamp": ORIGIN,
            "writer_id": "test",
            "store_timeout_s": 0.3,
        }
        values.update(overrides)
        return EventServiceConfig(**values)

    return make


@pytest.fixture
def serve() -> Iterator[Callable[[EventServiceConfig], tuple[ThreadedServer, EventClient]]]:
    """Start services (stopped at teardown, in reverse order)."""
    started: list[tuple[ThreadedServer, EventClient]] = []

    def start(config: EventServiceConfig) -> tuple[ThreadedServer, EventClient]:
        server = ThreadedServer(create_app(config)).start()
        client = EventClient(server.host, server.port)
        started.append((server, client))
        return server, client

    yield start
    for server, client in reversed(started):
        client.close()
        server.stop()
