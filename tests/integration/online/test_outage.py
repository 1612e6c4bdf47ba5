"""Valkey goes away mid-test: readers pass through with a flag, writers raise a clear error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.online.client import OnlineStoreUnavailableError, connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import (
    PASSTHROUGH,
    contains_or_passthrough,
    detect_backend,
    make_seen_filter,
)
from recsys_workloads.runtime import toolchain
from recsys_workloads.runtime.redis_server import RedisServer

NOW = 1_795_000_000.0


def test_readers_fall_back_and_writers_raise_while_the_server_is_down(tmp_path: Path) -> None:
    server = RedisServer(toolchain.discover().redis_server, tmp_path).start()
    try:
        client = connect(server.url, timeout_s=0.2)
        seen = make_seen_filter(client, SeenFilterConfig())
        pop = Popularity(client)
        seen.add("u", [1, 2], at=NOW)
        pop.record("1", at=NOW)
        assert contains_or_passthrough(seen, "u", [1, 3], at=NOW).seen.tolist() == [True, False]

        server.stop()
        before = PASSTHROUGH.value
        started = time.perf_counter()
        result = contains_or_passthrough(seen, "u", [1, 3], at=NOW)
        assert time.perf_counter() - started < 1.0
        assert result.filter_skipped and "unreachable" in result.reason
        assert result.seen.tolist() == [False, False]
        assert PASSTHROUGH.value == before + 1

        with pytest.raises(OnlineStoreUnavailableError):
            seen.add("u", [4], at=NOW)
        with pytest.raises(OnlineStoreUnavailableError):
            pop.record("1", at=NOW)
        with pytest.raises(OnlineStoreUnavailableError):
            detect_backend(client)
        fallback = pop.top_or_default(3, at=NOW, default=[("cached", 1.0)])
        assert fallback.fallback and fallback.items == [("cached", 1.0)]

        server.start()
        assert not contains_or_passthrough(seen, "u", [1], at=NOW).filter_skipped
        assert not pop.top_or_default(3, at=NOW).fallback
    finally:
        server.stop()
