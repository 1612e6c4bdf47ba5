"""Shared fixtures: real servers on free loopback ports, stopped by PID on teardown.

Missing binaries fail loudly (`make test` installs them); nothing is silently skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys_workloads.runtime import toolchain as toolchain_mod
from recsys_workloads.runtime.redis_server import RedisServer

TESTS_DIR = Path(__file__).resolve().parent
LAYERS = ("unit", "integration", "e2e", "cluster")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the folder it lives in, so `-m unit` and friends select layers."""
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(TESTS_DIR).parts
        if parts and parts[0] in LAYERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def toolchain() -> toolchain_mod.Toolchain:
    try:
        return toolchain_mod.discover()
    except toolchain_mod.ToolchainError as exc:
        pytest.fail(f"real components are missing: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def redis_server(
    toolchain: toolchain_mod.Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """One real redis-server for the session; tests get it flushed via `redis_url`."""
    server = RedisServer(toolchain.redis_server, tmp_path_factory.mktemp("redis"))
    with server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def serving_version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained version (integration/serving and e2e share it: trained once per session)."""
    from tests.integration.serving.conftest import train_tiny_version

    return train_tiny_version(tmp_path_factory.mktemp("serving-shop"))
