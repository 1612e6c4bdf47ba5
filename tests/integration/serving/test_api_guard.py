"""The recommendation API guarded, on a real uvicorn server; no Triton (the fallback answers).

The demo proxy forwarding to a token-guarded event service: tests/integration/events/test_guard.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from recsys_workloads.contracts.access import AccessEnv
from recsys_workloads.serving.api.app import MAX_EXCLUDED
from tests.conftest import Clock

from .conftest import call, no_triton, serve

TOKEN = "api-token-0123456789"


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
    clock = Clock(100.0)
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
