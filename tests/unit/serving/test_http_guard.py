"""The front doors' guard (runtime.http_guard) driven as plain ASGI: no server, a fake clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from recsys_workloads.contracts.access import AccessEnv, GuardConfig, RateLimitConfig
from recsys_workloads.runtime.http_guard import (
    HttpGuard,
    Message,
    Receive,
    Scope,
    Send,
    TokenBuckets,
    TokenMissingError,
    load_token,
    required_token,
)
from tests.conftest import Clock

TOKEN = "s3cret-token"


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """The guarded app: answers 200 with the body length it received."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"received": size}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _call(
    guard: HttpGuard,
    path: str = "/events",
    token: str | None = None,
    chunks: tuple[bytes, ...] = (b"{}",),
    client: str = "10.0.0.1",
    content_length: bool = True,
) -> tuple[int, dict[str, str], Any]:
    headers = [(b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", token.encode()))
    if content_length:
        headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "client": (client, 5000)}
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, json.loads(body)


def _guard(token: str = "", clock: Clock | None = None, **config: Any) -> HttpGuard:
    guard = GuardConfig.model_validate(config)
    return HttpGuard(_echo, guard, token, TokenBuckets(guard.rate_limit, clock or Clock(1_000.0)))


def test_without_a_token_configured_requests_pass() -> None:
    assert _call(_guard())[0] == 200


def test_a_missing_or_wrong_token_is_a_401_problem_and_the_right_one_passes() -> None:
    guard = _guard(TOKEN)
    status, headers, body = _call(guard)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert body["detail"] == "unauthorized" and "no bearer token" in body["errors"][0]
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}"):
        status, _, body = _call(guard, token=wrong)
        assert status == 401, wrong
    assert _call(guard, token=f"Bearer {TOKEN}")[0] == 200
    assert _call(guard, token=f"bearer   {TOKEN}")[0] == 200  # the scheme is case-insensitive


def test_health_readiness_metrics_and_docs_stay_open() -> None:
    guard = _guard(TOKEN, rate_limit={"requestsPerSecond": 1, "burst": 1})
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/", "/static/app.js"):
        for _ in range(3):  # neither the token nor the rate limit applies
            assert _call(guard, path=path)[0] == 200, path
    assert _call(guard, path="/v1/recommendations", client="10.0.0.2")[0] == 401
    assert _call(guard, path="/healthz/x", client="10.0.0.3")[0] == 401  # exact paths, not prefixes


def test_the_burst_passes_then_429_with_retry_after_until_the_bucket_refills() -> None:
    clock = Clock(1_000.0)
    guard = _guard(clock=clock, rate_limit={"requestsPerSecond": 2, "burst": 3})
    assert [_call(guard)[0] for _ in range(3)] == [200, 200, 200]
    status, headers, body = _call(guard)
    assert status == 429 and headers["retry-after"] == "1"
    assert "at most 3 requests at once and 2/s per client" in body["errors"][0]
    assert _call(guard, client="10.0.0.2")[0] == 200  # per client: another address is not throttled
    clock.now += 0.5  # one token back (2/s)
    assert [_call(guard)[0] for _ in range(2)] == [200, 429]
    clock.now += 10  # refilled to the burst, not beyond
    assert [_call(guard)[0] for _ in range(4)] == [200, 200, 200, 429]


def test_retry_after_rounds_the_wait_up_to_whole_seconds() -> None:
    clock = Clock(1_000.0)
    guard = _guard(clock=clock, rate_limit={"requestsPerSecond": 0.25, "burst": 1})
    assert _call(guard)[0] == 200
    status, headers, _ = _call(guard)
    assert status == 429 and headers["retry-after"] == "4"


def test_rate_limit_comes_before_the_token_check_so_guessing_is_throttled() -> None:
    guard = _guard(TOKEN, rate_limit={"requestsPerSecond": 1, "burst": 2})
    assert [_call(guard, token="Bearer guess")[0] for _ in range(3)] == [401, 401, 429]


def test_buckets_are_bounded_by_max_clients() -> None:
    buckets = TokenBuckets(RateLimitConfig(requests_per_second=1, burst=1, max_clients=3), Clock(1_000.0))
    for n in range(10):
        assert buckets.take(f"c{n}") == 0.0
    assert len(buckets._buckets) == 3
    assert buckets.take("c9") > 0  # the most recent are kept


def test_bodies_over_the_cap_are_413_whether_declared_or_streamed() -> None:
    guard = _guard(max_body_bytes=1024)
    assert _call(guard, chunks=(b"x" * 1024,))[2] == {"received": 1024}
    status, _, body = _call(guard, chunks=(b"x" * 1025,))
    assert status == 413 and "at most 1024 bytes" in body["errors"][0]
    chunked = (b"x" * 600, b"y" * 600)
    status, _, body = _call(guard, chunks=chunked, content_length=False)
    assert status == 413 and "maxBodyBytes" in body["errors"][0]
    assert _call(guard, chunks=(b"x" * 500, b"y" * 500), content_length=False)[2] == {"received": 1000}


def test_the_token_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert load_token({AccessEnv.TOKEN: f" {TOKEN}\n"}) == TOKEN
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert load_token({AccessEnv.TOKEN_FILE: str(token_file)}) == TOKEN
    assert load_token({}) == ""
    assert load_token({AccessEnv.EVENTS_TOKEN: "e"}, AccessEnv.EVENTS_TOKEN) == "e"


def test_a_required_token_that_is_absent_refuses_to_start() -> None:
    with pytest.raises(TokenMissingError, match=AccessEnv.TOKEN):
        required_token(GuardConfig(token_required=True), {AccessEnv.TOKEN: ""})
    assert required_token(GuardConfig(token_required=True), {AccessEnv.TOKEN: TOKEN}) == TOKEN
    assert required_token(GuardConfig(), {}) == ""
