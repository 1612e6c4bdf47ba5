"""Backend detection, real TTL expiry and the bitmap layout on the real redis-server."""

from __future__ import annotations

import time
from typing import cast

import fakeredis
import pytest
import redis

from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.online.seen_filter import (
    BackendUnavailableError,
    BitmapSeenFilter,
    NativeBloomSeenFilter,
    detect_backend,
    make_seen_filter,
)

NOW = 1_795_000_000.0


def test_plain_redis_server_is_detected_as_bitmap_backend(real_client: redis.Redis) -> None:
    assert detect_backend(real_client) == "bitmap"
    assert isinstance(make_seen_filter(real_client), BitmapSeenFilter)


def test_server_with_bf_commands_is_detected_as_native_backend() -> None:
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    assert detect_backend(fake) == "native"
    assert isinstance(make_seen_filter(fake), NativeBloomSeenFilter)
    assert fake.dbsize() == 0  # the probe leaves nothing behind


def test_forcing_bitmap_works_on_a_server_with_bf_commands() -> None:
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    assert isinstance(make_seen_filter(fake, SeenFilterConfig(backend="bitmap")), BitmapSeenFilter)


def test_forcing_native_on_a_plain_server_fails_clearly(real_client: redis.Redis) -> None:
    with pytest.raises(BackendUnavailableError, match=r"BF\.\*"):
        make_seen_filter(real_client, SeenFilterConfig(backend="native"))


def test_bitmap_filter_is_sized_from_capacity_and_rate(real_client: redis.Redis) -> None:
    seen = BitmapSeenFilter(real_client, SeenFilterConfig(window_days=1, capacity=5000, error_rate=0.01))
    assert (seen.bits, seen.hashes) == (47926, 7)
    seen.add("u", list(range(200)), at=NOW)
    key = next(iter(real_client.scan_iter("seen:*")))
    assert cast(int, real_client.strlen(key)) <= (47926 + 7) // 8


def test_day_filter_disappears_when_its_ttl_runs_out(real_client: redis.Redis) -> None:
    seen = BitmapSeenFilter(real_client, SeenFilterConfig(ttl_seconds=1))
    seen.add("u", [1, 2, 3], at=NOW)
    assert seen.contains("u", [1], at=NOW).tolist() == [True]
    time.sleep(1.1)
    assert seen.contains("u", [1], at=NOW).tolist() == [False]
    assert real_client.dbsize() == 0
