"""The API's demo endpoints on real servers: catalog items and images, demo visitors, the event proxy.

No Triton here (these endpoints do not call it; recommendations take the popularity path);
a tiny generated shop with images, a real redis-server and a real event service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.data import schema as s
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest, open_interactions
from recsys_workloads.events.app import create_app as create_events_app
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.runtime.ports import LOOPBACK, free_port
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.serving.api.app import MAX_ITEMS, ApiConfig, create_app

Answer = tuple[int, dict[str, str], Any]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-item canonical dataset with generated images."""
    root = tmp_path_factory.mktemp("demo-shop")
    generate(GeneratorConfig(users=100, items=40, interactions=2_000, days=2), root / "raw")
    ingest(root / "raw", root / "canonical")
    return root / "canonical"


@pytest.fixture(scope="module")
def item_ids(shop: Path) -> list[str]:
    return [str(i) for i in pq.read_table(shop / s.ITEMS_FILE).column(s.ITEM_ID).to_pylist()]


@pytest.fixture(scope="module")
def events_url(
    shop: Path, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    config = EventServiceConfig(
        redis_url=redis_server.url, catalog=shop, log_dir=tmp_path_factory.mktemp("demo-events")
    )
    with ThreadedServer(create_events_app(config)) as server:
        yield server.url


def _dead_address() -> str:
    return f"{LOOPBACK}:{free_port()}"


@pytest.fixture(scope="module")
def api(shop: Path, redis_server: RedisServer, events_url: str) -> Iterator[str]:
    """Triton is absent on purpose: recommendations come from popularity minus seen items."""
    config = ApiConfig(
        triton_url=_dead_address(),
        redis_url=redis_server.url,
        catalog=shop,
        events_url=events_url,
        timeout_s=0.2,
    )
    with ThreadedServer(create_app(config)) as server:
        yield server.url


@pytest.fixture(scope="module")
def bare_api() -> Iterator[str]:
    """No catalog, no event service, no Valkey."""
    with ThreadedServer(create_app(ApiConfig(triton_url=_dead_address(), timeout_s=0.2))) as server:
        yield server.url


def _call(url: str, body: bytes | dict[str, Any] | None = None) -> Answer:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            raw, status, headers = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, headers = exc.read(), exc.code, dict(exc.headers)
    is_json = headers.get("content-type", "").startswith("application/json")
    return status, headers, json.loads(raw) if is_json else raw


def _items_url(api: str, ids: list[str]) -> str:
    return f"{api}/v1/items?" + "&".join(f"ids={i}" for i in ids)


def test_items_come_back_in_the_order_asked_with_unknown_ids_listed(
    api: str, item_ids: list[str], shop: Path
) -> None:
    asked = [item_ids[3], "no-such-item", item_ids[0]]
    status, _, body = _call(_items_url(api, asked))
    assert status == 200
    assert [i["item_id"] for i in body["items"]] == [item_ids[3], item_ids[0]]
    assert body["unknown"] == ["no-such-item"]
    row = pq.read_table(shop / s.ITEMS_FILE).to_pylist()[3]
    first = body["items"][0]
    assert (first["name"], first["category_l1"], first["category_l2"], first["price"]) == (
        row[s.NAME],
        row[s.CATEGORY_L1],
        row[s.CATEGORY_L2],
        row[s.PRICE],
    )
    assert first["image"] == f"/v1/items/{item_ids[3]}/image"


def test_an_items_generated_image_is_served_as_png(api: str, item_ids: list[str], shop: Path) -> None:
    status, headers, body = _call(f"{api}/v1/items/{item_ids[5]}/image")
    assert status == 200 and headers["content-type"] == "image/png"
    assert body == (shop / s.IMAGES_DIR / f"{item_ids[5]}.png").read_bytes()
    assert _call(f"{api}/v1/items/no-such-item/image")[0] == 404


@pytest.mark.parametrize(
    "query",
    ["", "ids=bad%20id", "ids=a&ids=b%2Fc", "&".join(["ids=x"] * (MAX_ITEMS + 1))],
    ids=["missing", "space", "slash", "too-many"],
)
def test_malformed_item_queries_get_a_422_naming_ids(api: str, query: str) -> None:
    status, _, body = _call(f"{api}/v1/items?{query}")
    assert status == 422
    assert body["detail"][0]["loc"][:2] == ["query", "ids"]


def test_without_a_catalog_the_page_and_catalog_routes_are_404_and_recommendations_still_work(
    bare_api: str,
) -> None:
    for path in ("/", "/v1/items?ids=a", "/v1/items/a/image", "/v1/demo/visitors", "/v1/demo/visitors/u1"):
        status, _, body = _call(bare_api + path)
        assert status == 404 and "catalog" in body["detail"], path
    status, _, body = _call(f"{bare_api}/v1/demo/events", {"event_id": "e"})
    assert status == 404 and "events_url" in body["detail"]
    status, _, body = _call(f"{bare_api}/v1/recommendations", {"user_id": "u1", "num_items": 3})
    assert status == 200 and body["fallback"]


def test_demo_visitors_are_the_users_with_most_history_and_fresh_ids(api: str, shop: Path) -> None:
    table = open_interactions(shop).to_table(columns=[s.USER_ID, s.CLICKED])
    counts = Counter(
        str(u)
        for u, clicked in zip(table[s.USER_ID].to_pylist(), table[s.CLICKED].to_pylist(), strict=True)
        if u is not None and clicked
    )
    status, _, first = _call(f"{api}/v1/demo/visitors")
    assert status == 200
    shown = [(v["user_id"], v["interactions"]) for v in first["registered"]]
    assert len(shown) == 6
    assert [n for _, n in shown] == sorted(counts.values(), reverse=True)[:6]
    assert all(counts[user] == n for user, n in shown)
    second = _call(f"{api}/v1/demo/visitors")[2]
    assert first["anonymous_id"].startswith("anon-") and first["anonymous_id"] != second["anonymous_id"]
    assert first["new_user_id"] not in counts and first["new_user_id"] != second["new_user_id"]


def test_a_forwarded_view_hides_the_item_and_sets_the_visitors_top_category(
    api: str, redis_url: str, item_ids: list[str], shop: Path
) -> None:
    popular = item_ids[:5]
    Popularity(connect(redis_url)).record_many(
        [(item, None, float(10 - i)) for i, item in enumerate(popular)], time.time()
    )
    visitor = f"demo-proxy-{time.time_ns()}"
    ask = {"user_id": visitor, "num_items": 3}
    status, headers, before = _call(f"{api}/v1/recommendations", ask)
    assert status == 200 and before["item_ids"] == popular[:3]
    assert headers["server-timing"].startswith("app;dur=")

    event = {
        "event_id": "e-1",
        "user_id": visitor,
        "item_id": popular[0],
        "event_type": "View",
        "device": "ios",
    }
    status, _, answer = _call(f"{api}/v1/demo/events", event)
    assert status == 200 and answer["accepted"] == 1

    assert _call(f"{api}/v1/recommendations", ask)[2]["item_ids"] == popular[1:4]
    state = _call(f"{api}/v1/demo/visitors/{visitor}")[2]
    category = pq.read_table(shop / s.ITEMS_FILE).to_pylist()[0][s.CATEGORY_L1]
    assert state == {
        "visitor": visitor,
        "top_category": category,
        "recent_items": [popular[0]],
        "store_skipped": False,
    }
    assert _call(f"{api}/v1/demo/events", event)[2]["duplicates"] == 1  # the event service's idempotency


def test_the_event_services_rejections_pass_through_unchanged(api: str, events_url: str) -> None:
    bad = {"event_id": "e-2", "user_id": "u1", "item_id": "no-such-item", "event_type": "View"}
    via_api, direct = _call(f"{api}/v1/demo/events", bad), _call(f"{events_url}/events", bad)
    assert via_api[0] == direct[0] == 422
    assert via_api[2] == direct[2] and via_api[2]["detail"] == "unknown item"
    assert _call(f"{api}/v1/demo/events", b"{not json")[0] == 422
    assert _call(f"{api}/v1/demo/events", b"x" * (64 * 1024 + 1))[0] == 413


def test_an_unreachable_event_service_is_a_502_and_no_valkey_is_flagged(shop: Path) -> None:
    config = ApiConfig(
        triton_url=_dead_address(), catalog=shop, events_url=f"http://{_dead_address()}", timeout_s=0.2
    )
    with ThreadedServer(create_app(config)) as server:
        status, _, body = _call(f"{server.url}/v1/demo/events", {"event_id": "e"})
        state = _call(f"{server.url}/v1/demo/visitors/u1")[2]
    assert status == 502 and "unreachable" in body["detail"]
    assert state == {"visitor": "u1", "top_category": None, "recent_items": [], "store_skipped": True}


def test_the_page_and_its_static_files_are_served(api: str) -> None:
    status, headers, html = _call(f"{api}/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'src="static/app.js"' in html and b"://" not in html  # nothing from outside the API
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        status, headers, _ = _call(f"{api}/static/{name}")
        assert status == 200 and kind in headers["content-type"]
    assert _call(f"{api}/static/nothing.js")[0] == 404


def _serve_cli(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RECSYS_REDIS_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "recsys_workloads.serving.api.cli", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "exited")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} not healthy in {timeout_s} s")


@pytest.mark.parametrize("style", ["flags", "config"])
def test_recsys_api_serve_serves_the_page(style: str, shop: Path, tmp_path: Path) -> None:
    port = free_port()
    if style == "flags":
        args = ["--triton-url", _dead_address(), "--catalog", str(shop)]
    else:
        config = tmp_path / "api.json"
        config.write_text(json.dumps({"triton_url": _dead_address(), "catalog": str(shop)}))
        args = ["--config", str(config)]
    process = _serve_cli([*args, "--host", LOOPBACK, "--port", str(port)])
    url = f"http://{LOOPBACK}:{port}"
    try:
        _wait_healthy(url, process)
        assert _call(f"{url}/")[0] == 200
        assert len(_call(f"{url}/v1/demo/visitors")[2]["registered"]) == 6
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_recsys_api_serve_rejects_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "api.json"
    config.write_text(json.dumps({"triton_url": "x:1", "model": "nope"}))
    process = _serve_cli(["--config", str(config)])
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert b"model" in output
