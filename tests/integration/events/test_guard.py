"""The event service's write path guarded, on a real server with a real redis-server: token, rate, size."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from recsys_workloads.contracts.access import AccessEnv
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.events.app import create_app
from recsys_workloads.events.client import EventClient
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.runtime.http_guard import TokenMissingError
from tests.conftest import Clock
from tests.integration.events.conftest import MakeConfig
from tests.integration.serving.conftest import call, no_triton, serve

TOKEN = "events-token-0123456789"


Start = Callable[..., str]


@pytest.fixture
def start() -> Iterator[Start]:
    servers: list[ThreadedServer] = []

    def run(config: EventServiceConfig, **kwargs: Any) -> str:
        server = ThreadedServer(create_app(config, **kwargs)).start()
        servers.append(server)
        return server.url

    yield run
    for server in reversed(servers):
        server.stop()


def _call(url: str, path: str = "/events", **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    return call(url, path, **kwargs)


def _event(n: int) -> dict[str, Any]:
    return {"event_id": f"g{n}", "user_id": "u1", "item_id": "i1", "event_type": "View"}


def test_without_the_token_nothing_is_applied_with_it_the_event_is(
    redis_url: str, make_config: MakeConfig, start: Start
) -> None:
    config = make_config(redis_url, guard={"tokenRequired": True})
    url = start(config, env={AccessEnv.TOKEN: TOKEN})
    status, headers, body = _call(url, body=_event(1))
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert body["detail"] == "unauthorized" and "Authorization" in body["errors"][0]
    assert _call(url, body=_event(1), token=TOKEN + "x")[0] == 401
    status, _, body = _call(url, body=_event(1), token=TOKEN)
    assert status == 200 and body["accepted"] == 1
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert _call(url, path=path)[0] == 200, path
    host, port = url.removeprefix("http://").split(":")
    client = EventClient(host, int(port), token=TOKEN)  # what `recsys events post` uses
    try:
        assert client.post_events(_event(2)).status == 200
    finally:
        client.close()


def test_a_required_token_missing_from_the_environment_refuses_to_start(
    redis_url: str, make_config: MakeConfig
) -> None:
    with pytest.raises(TokenMissingError):
        create_app(make_config(redis_url, guard={"tokenRequired": True}), env={})


def test_a_client_over_its_rate_gets_429_with_retry_after_and_passes_after_the_refill(
    redis_url: str, make_config: MakeConfig, start: Start
) -> None:
    clock = Clock(5_000.0)
    config = make_config(redis_url, guard={"rateLimit": {"requestsPerSecond": 1, "burst": 2}})
    url = start(config, env={}, clock=clock)
    assert [_call(url, body=_event(n))[0] for n in range(2)] == [200, 200]
    status, headers, body = _call(url, body=_event(3))
    assert status == 429 and headers["retry-after"] == "1" and "per client" in body["errors"][0]
    assert _call(url, path="/healthz")[0] == 200  # probes are never throttled
    clock.now += 1.0
    assert _call(url, body=_event(3))[0] == 200


def test_a_batch_over_max_batch_is_413_naming_the_limit_and_applies_nothing(
    redis_url: str, make_config: MakeConfig, start: Start
) -> None:
    url = start(make_config(redis_url, limits={"maxBatch": 5}), env={})
    status, _, body = _call(url, body={"events": [_event(n) for n in range(6)]})
    assert status == 413 and body["errors"] == ["6 events, at most 5 per request"]
    status, _, body = _call(url, body={"events": [_event(n) for n in range(5)]})
    assert status == 200 and body["accepted"] == 5


def test_a_body_over_max_body_bytes_is_413_before_the_route_reads_it(
    redis_url: str, make_config: MakeConfig, start: Start
) -> None:
    url = start(make_config(redis_url, guard={"maxBodyBytes": 4096}), env={})
    started = time.monotonic()
    status, _, body = _call(url, raw=b'{"events": [' + b" " * 5000 + b"]}")
    assert status == 413 and "at most 4096 bytes" in body["errors"][0]
    assert time.monotonic() - started < 5


def test_the_demo_proxy_forwards_with_the_event_services_token(
    redis_url: str, make_config: MakeConfig
) -> None:
    events_config = make_config(redis_url, guard={"tokenRequired": True})
    with ThreadedServer(create_app(events_config, env={AccessEnv.TOKEN: TOKEN})) as events:
        event = {"event_id": "d1", "user_id": "u1", "item_id": "i1", "event_type": "View"}
        with_token = no_triton(events_url=events.url)
        for url in serve(with_token, env={AccessEnv.EVENTS_TOKEN: TOKEN}):
            status, _, body = call(url, "/v1/demo/events", event)
            assert status == 200 and body["accepted"] == 1
        for url in serve(with_token, env={}):  # a proxy without the token gets the service's 401
            assert call(url, "/v1/demo/events", {**event, "event_id": "d2"})[0] == 401
