"""`recsys events post` against a running service."""

from __future__ import annotations

from collections.abc import Callable

import redis
from typer.testing import CliRunner

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.events.cli import app
from recsys_workloads.events.client import EventClient
from recsys_workloads.events.local_server import ThreadedServer
from tests.integration.events.conftest import MakeConfig

Serve = Callable[[EventServiceConfig], tuple[ThreadedServer, EventClient]]


def test_post_sends_one_event_and_exits_nonzero_on_a_rejection(
    redis_url: str, make_config: MakeConfig, serve: Serve
) -> None:
    server, _ = serve(make_config(redis_url))
    runner = CliRunner()
    base = ["post", "--url", server.url, "--item", "i3"]

    ok = runner.invoke(
        app, [*base, "--user", "u5", "--type", "Purchase", "--device", "ios", "--event-id", "c1"]
    )
    bad = runner.invoke(app, [*base, "--user", "u5", "--type", "Like"])

    assert ok.exit_code == 0, ok.output
    assert '"accepted": 1' in ok.output
    assert redis.Redis.from_url(redis_url).get(keys.top_category_key("u5")) == b"books"
    assert bad.exit_code == 1 and "event_type" in bad.output
