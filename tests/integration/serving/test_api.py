"""The FastAPI front: Triton over gRPC, clear 4xx, popularity fallback (never a 5xx)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from recsys_workloads.runtime.ports import LOOPBACK, free_port
from recsys_workloads.serving.api.app import ApiConfig, create_app

from .conftest import Stack


def _serve(config: ApiConfig) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host=LOOPBACK, port=port, log_level="warning"))
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


def _post(base: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/v1/recommendations", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def api(homepage_stack: Stack) -> Iterator[str]:
    config = ApiConfig(
        triton_url=homepage_stack.triton.grpc_url, redis_url=homepage_stack.store.url, timeout_s=5
    )
    yield from _serve(config)


@pytest.fixture(scope="module")
def api_without_triton(homepage_stack: Stack) -> Iterator[str]:
    yield from _serve(ApiConfig(triton_url=f"{LOOPBACK}:{free_port()}", redis_url=homepage_stack.store.url))


def test_a_valid_request_is_answered_by_triton(api: str) -> None:
    status, body = _post(api, {"session_id": "s-1", "device": "ios", "num_items": 4})
    assert status == 200
    assert body["source"] == "triton" and not body["fallback"]
    assert len(set(body["item_ids"])) == 4 and body["cold_start"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"num_items": 0}, "num_items"),
        ({"num_items": 1000}, "num_items"),
        ({"user_id": "bad id with spaces"}, "user_id"),
        ({"timestamp": -5}, "timestamp"),
        ({"colour": "red"}, "colour"),
        ({"exclude_item_ids": "not-a-list"}, "exclude_item_ids"),
    ],
)
def test_malformed_requests_get_a_422_naming_the_field(api: str, body: dict[str, Any], field: str) -> None:
    status, answer = _post(api, body)
    assert status == 422
    assert field in json.dumps(answer["detail"])


def test_broken_json_and_two_visitor_ids_are_client_errors(api: str) -> None:
    assert _post(api, "{not json")[0] == 422
    status, answer = _post(api, {"user_id": "u", "session_id": "s"})
    assert status == 422 and "not both" in json.dumps(answer["detail"])


def test_unavailable_triton_falls_back_to_flagged_popularity(
    api_without_triton: str, homepage_stack: Stack
) -> None:
    status, body = _post(
        api_without_triton, {"user_id": "u-fallback", "num_items": 3, "exclude_item_ids": []}
    )
    assert status == 200
    assert body["fallback"] and body["source"] == "popularity"
    assert body["item_ids"] == homepage_stack.popular[:3]


def test_openapi_documents_the_endpoint(api: str) -> None:
    with urllib.request.urlopen(f"{api}/openapi.json", timeout=10) as resp:
        spec = json.loads(resp.read())
    assert "/v1/recommendations" in spec["paths"]


def _readyz(base: str, timeout_s: float) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/readyz", timeout=timeout_s) as resp:
        return dict(json.loads(resp.read()))


def test_readiness_reports_the_last_triton_call(api: str) -> None:
    assert _post(api, {"session_id": "s-ready", "num_items": 2})[0] == 200
    assert _readyz(api, 10) == {"ready": True, "triton_ready": True}


def test_readiness_answers_while_triton_hangs() -> None:
    """A Triton that accepts connections and never answers (a pod going away) must not make the
    API unready: its probe would time out and take every API pod out of the Service."""
    with socket.create_server((LOOPBACK, 0)) as silent:
        config = ApiConfig(triton_url=f"{LOOPBACK}:{silent.getsockname()[1]}", timeout_s=4)
        with contextlib.contextmanager(_serve)(config) as base:
            assert _readyz(base, 10)["triton_ready"] is None  # no call yet: nothing known
            answers: list[tuple[int, dict[str, Any]]] = []
            waiting = threading.Thread(target=lambda: answers.append(_post(base, {"session_id": "s-h"})))
            waiting.start()
            time.sleep(0.5)  # the homepage request now waits on the silent Triton
            assert waiting.is_alive()
            assert _readyz(base, 1.5)["ready"] is True  # well inside the 4 s Triton deadline
            waiting.join(timeout=30)
            assert answers[0][0] == 200 and answers[0][1]["fallback"]
            assert _readyz(base, 10)["triton_ready"] is False
