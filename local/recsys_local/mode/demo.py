"""`recsys demo` (`make demo`): local mode end to end, narrated, through the same API the page uses.

`recsys local up` on the example spec (train, serve, events, API), then homepages for a
registered user, an anonymous visitor and a brand-new user, one click and the homepage
that reflects it. It leaves the system running and prints the demo page's URL;
`--ci` stops everything at the end and fails loudly if anything did not behave.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from recsys_local.mode import http
from recsys_local.mode.system import LocalModeError, LocalSystem


@dataclass(frozen=True)
class Homepage:
    visitor: str
    device: str
    item_ids: list[str]
    scores: list[float]
    flags: list[str]
    source: str
    latency_ms: float


@dataclass(frozen=True)
class DemoResult:
    api_url: str
    pages: dict[str, Homepage]
    clicked: str
    first_recommendation_s: float


class DemoApi:
    def __init__(self, url: str) -> None:
        self.url = url

    def homepage(self, device: str | None, num_items: int, **visitor: str) -> Homepage:
        payload: dict[str, Any] = {"num_items": num_items, **visitor}
        if device:
            payload["device"] = device
        started = time.perf_counter()
        code, body = http.post(f"{self.url}/v1/recommendations", payload)
        latency = (time.perf_counter() - started) * 1000
        if code != 200:
            raise LocalModeError(f"the API answered {code}: {body}")
        return Homepage(
            visitor=next(iter(visitor.values()), "(no id)"),
            device=device or "(missing)",
            item_ids=list(body["item_ids"]),
            scores=[float(s) for s in body["scores"]],
            flags=[f for f in ("cold_start", "filter_skipped", "fallback") if body.get(f)],
            source=str(body["source"]),
            latency_ms=latency,
        )

    def visitors(self) -> dict[str, Any]:
        code, body = http.get(f"{self.url}/v1/demo/visitors")
        if code != 200:
            raise LocalModeError(f"/v1/demo/visitors answered {code}: {body}")
        return dict(body)

    def items(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        code, body = http.get(f"{self.url}/v1/items", [("ids", i) for i in ids])
        return {i["item_id"]: i for i in body["items"]} if code == 200 else {}

    def view(self, user_id: str, item_id: str, device: str) -> None:
        event = {"event_id": uuid.uuid4().hex, "user_id": user_id, "item_id": item_id, "event_type": "View"}
        code, body = http.post(f"{self.url}/v1/demo/events", {**event, "device": device})
        if code != 200:
            raise LocalModeError(f"the event was not accepted ({code}): {body}")


def homepage_table(page: Homepage, info: dict[str, dict[str, Any]], title: str) -> Table:
    flags = f" [yellow]{', '.join(page.flags)}[/]" if page.flags else ""
    table = Table(
        title=f"{title}: {page.visitor} on {page.device}, {page.latency_ms:.0f} ms via {page.source}{flags}",
        title_justify="left",
    )
    for column in ("#", "name", "category", "price", "score"):
        table.add_column(column, justify="right" if column in {"#", "price", "score"} else "left")
    for rank, (item, score) in enumerate(zip(page.item_ids, page.scores, strict=True), 1):
        row = info.get(item, {})
        price = row.get("price")
        table.add_row(
            str(rank),
            str(row.get("name") or item),
            str(row.get("category_l1", "")),
            f"{price:.2f}" if isinstance(price, float) else "",
            f"{score:.3f}",
        )
    return table


def run_demo(
    spec_file: Path, workdir: Path, console: Console, ci: bool = False, num_items: int = 8
) -> DemoResult:
    system = LocalSystem(workdir, console)
    started = time.monotonic()
    state = system.up(spec_file)
    try:
        api = DemoApi(state.processes["api"].url)
        visitors = api.visitors()
        user = str(visitors["registered"][0]["user_id"])
        pages = {"registered": api.homepage("ios", num_items, user_id=user)}
        first = time.monotonic() - started
        pages["anonymous"] = api.homepage("web", num_items, session_id=str(visitors["anonymous_id"]))
        pages["new"] = api.homepage(None, num_items, user_id=str(visitors["new_user_id"]))
        clicked = pages["registered"].item_ids[0]
        api.view(user, clicked, "ios")
        pages["after_click"] = api.homepage("ios", num_items, user_id=user)
        info = api.items(sorted({i for p in pages.values() for i in p.item_ids}))
        titles = {
            "registered": "registered user",
            "anonymous": "anonymous visitor",
            "new": "new user",
            "after_click": f"after viewing {info.get(clicked, {}).get('name') or clicked}",
        }
        for key, title in titles.items():
            console.print(homepage_table(pages[key], info, title))
        if clicked in pages["after_click"].item_ids:
            raise LocalModeError(f"{clicked} is still recommended after the user viewed it")
        console.print(f"time to first recommendation: {first:.0f} s (including training)")
        console.print(f"\n[bold]demo page:[/] {api.url}/")
    finally:
        if ci:
            stopped = system.down()
            console.print(f"--ci: stopped {', '.join(stopped)}")
    if not ci:
        console.print(
            "the system keeps running: `recsys local status`, `recsys local train`, `recsys local down`"
        )
    return DemoResult(api.url, pages, clicked, first)
