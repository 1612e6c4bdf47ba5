"""The real redis-server that `make test` installs answers on a free loopback port."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
import redis

from recsys_workloads.runtime.process import ServerStartError
from recsys_workloads.runtime.redis_server import RedisServer, redis_ping
from recsys_workloads.runtime.toolchain import Toolchain


def test_redis_server_stores_and_expires_keys(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set("k", "v", px=200)
    assert client.get("k") == b"v"
    # redis-py types its sync commands as `Awaitable | Any` (shared with the async client).
    assert 0 < cast(int, client.pttl("k")) <= 200
    info = cast(dict[str, Any], client.info("server"))
    assert int(str(info["redis_version"]).split(".")[0]) >= 7


def test_redis_server_stops_by_pid_and_frees_its_port(toolchain: Toolchain, tmp_path: Path) -> None:
    server = RedisServer(toolchain.redis_server, tmp_path).start()
    assert redis_ping(server.port)
    server.stop()
    assert not server.process.running()
    assert not redis_ping(server.port)


def test_persistent_redis_keeps_data_across_restart(toolchain: Toolchain, tmp_path: Path) -> None:
    server = RedisServer(toolchain.redis_server, tmp_path, persistent=True).start()
    redis.Redis.from_url(server.url).set("survives", "yes")
    server.stop()
    server.start()
    try:
        assert redis.Redis.from_url(server.url).get("survives") == b"yes"
    finally:
        server.stop()


def test_redis_on_a_taken_port_fails_with_its_log(
    toolchain: Toolchain, tmp_path: Path, redis_url: str
) -> None:
    taken = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    clash = RedisServer(toolchain.redis_server, tmp_path / "clash", port=taken)
    with pytest.raises(ServerStartError, match="already in use"):
        clash.start(timeout_s=10)
