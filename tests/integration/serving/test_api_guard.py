"""The recommendation API guarded, on a real uvicorn server; no Triton (the fallback answers).

The demo proxy forwarding to a token-guarded event service: tests/integration/events/test_guard.py.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from recsys_workloads.contracts.access import AccessEnv
from recsys_workloads.runtime.ports import LOOPBACK, free_port
from recsys_workloads.serving.api.app import MAX_EXCLUDED, ApiConfig, create_app

TOKEN = "api-token-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def serve(config: ApiConfig, **kwargs: Any) -> Iterator[str]:
    port = free_port()
    app = create_app(config, **kwargs)
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def call(url: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def no_triton(**fields: Any) -> ApiConfig:
    return ApiConfig.model_validate({"triton_url": f"{LOOPBACK}:{free_port()}", "timeout_s": 0.2, **fields})


@pytest.fixture
def guarded() -> Iterator[str]:
    yield from serve(no_triton(guard={"tokenRequired": True}), env={AccessEnv.TOKEN: TOKEN})


def test_recommendations_need_the_token_when_one_is_configured(guarded: str) -> None:
    status, headers, body = call(guarded, "/v1/recommendations", {"user_id": "u1"})
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert body["detail"] == "unauthorized"
    assert call(guarded, "/v1/recommendations", {"user_id": "u1"}, token="nope")[0] == 401
    status, _, body = call(guarded, "/v1/recommendations", {"user_id": "u1"}, token=TOKEN)
    assert status == 200 and body["fallback"] is True
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert call(guarded, path)[0] == 200, path


def test_a_client_over_its_rate_gets_429_and_passes_after_the_refill() -> None:
    clock = Clock()
    config = no_triton(guard={"rateLimit": {"requestsPerSecond": 2, "burst": 2}})
    for url in serve(config, env={}, clock=clock):
        statuses = [call(url, "/v1/recommendations", {})[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
        status, headers, _ = call(url, "/v1/recommendations", {})
        assert status == 429 and headers["retry-after"] == "1"
        clock.now += 0.5
        assert call(url, "/v1/recommendations", {})[0] == 200


def test_num_items_and_the_exclude_list_are_bounded() -> None:
    for url in serve(no_triton(), env={}):
        status, _, body = call(url, "/v1/recommendations", {"num_items": 101})
        assert status == 422 and body["detail"][0]["loc"] == ["body", "num_items"]
        too_many = [f"i{n}" for n in range(MAX_EXCLUDED + 1)]
        status, _, body = call(url, "/v1/recommendations", {"exclude_item_ids": too_many})
        assert status == 422 and body["detail"][0]["loc"] == ["body", "exclude_item_ids"]
        status, _, body = call(url, "/v1/recommendations", {"exclude_item_ids": ["x" * 10_000]})
        assert status == 422 and body["detail"][0]["loc"] == ["body", "exclude_item_ids", 0]
        assert call(url, "/v1/recommendations", {"exclude_item_ids": ["i1"] * MAX_EXCLUDED})[0] == 200
