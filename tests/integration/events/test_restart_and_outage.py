"""Durability: a killed service loses no acknowledged event; a down Valkey acknowledges nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.data import schema as s
from recsys_workloads.data.ingest import open_interactions
from recsys_workloads.events.client import EventClient
from recsys_workloads.events.local_server import ThreadedServer
from recsys_workloads.events.wal import SEGMENT_GLOB
from recsys_workloads.runtime import toolchain
from recsys_workloads.runtime.ports import free_port, port_is_open
from recsys_workloads.runtime.redis_server import RedisServer
from tests.integration.events.conftest import MakeConfig

Serve = Callable[[EventServiceConfig], tuple[ThreadedServer, EventClient]]
Batch = list[dict[str, object]]


def batch(number: int, size: int = 20) -> Batch:
    """Every event has its own user, so parquet rows map back to events one to one."""
    return [
        {"event_id": f"b{number}-{i}", "user_id": f"u{number}-{i}", "item_id": "i1", "event_type": "View"}
        for i in range(size)
    ]


def start_subprocess(config: EventServiceConfig, tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    config_file = tmp_path / "events.json"
    config_file.write_text(config.model_dump_json(by_alias=True))
    port = free_port()
    argv = [sys.executable, "-m", "recsys_workloads.events.cli", "serve", "--config", str(config_file)]
    log = (tmp_path / "service.log").open("wb")
    process = subprocess.Popen([*argv, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not port_is_open(port):
        assert process.poll() is None, (tmp_path / "service.log").read_text()
        assert time.monotonic() < deadline, "event service did not start"
        time.sleep(0.05)
    return process, port


def test_a_service_killed_mid_batch_replays_its_wal_and_logs_every_acked_event_once(
    redis_url: str, make_config: MakeConfig, serve: Serve, tmp_path: Path
) -> None:
    config = make_config(redis_url, claim_ttl_s=1, wal={"flush_rows": 1_000_000, "flush_interval_s": 3600})
    process, port = start_subprocess(config, tmp_path)
    acked: list[int] = []
    in_flight: list[int] = []

    def post_until_killed() -> None:
        client = EventClient("127.0.0.1", port, timeout_s=5)
        for number in range(10_000):
            in_flight[:] = [number]
            try:
                answer = client.post_events({"events": batch(number)})
            except OSError:
                return
            assert answer.status == 200, answer.body
            acked.append(number)

    poster = threading.Thread(target=post_until_killed)
    try:
        poster.start()
        while len(acked) < 5:
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        poster.join(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert list((config.log_dir / "wal").glob(SEGMENT_GLOB)), "the kill should leave WAL segments behind"
    assert not (config.log_dir / s.INTERACTIONS_DIR).exists(), "nothing should be in parquet before replay"

    server, client = serve(config)  # start-up replays the WAL into parquet
    retried = in_flight[0]
    deadline = time.monotonic() + 10
    while (answer := client.post_events({"events": batch(retried)})).status == 409:  # its claim expires
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert answer.status == 200
    server.stop()

    users = Counter(open_interactions(config.log_dir).to_table().column(s.USER_ID).to_pylist())
    expected = {f"u{n}-{i}" for n in [*acked, retried] for i in range(20)}
    assert set(users) == expected
    assert set(users.values()) == {1}
    assert not list((config.log_dir / "wal").glob(SEGMENT_GLOB))


def test_while_valkey_is_down_events_get_503_with_retry_after_and_nothing_is_logged(
    make_config: MakeConfig, serve: Serve, tmp_path: Path
) -> None:
    valkey = RedisServer(toolchain.discover().redis_server, tmp_path / "valkey").start()
    try:
        config = make_config(valkey.url, retry_after_s=7)
        server, client = serve(config)
        assert client.post_events({"events": batch(0, 3)}).status == 200

        valkey.stop()
        started = time.perf_counter()
        refused = client.post_events({"events": batch(1, 3)})
        assert time.perf_counter() - started < 2.0
        assert refused.status == 503 and refused.headers["retry-after"] == "7"
        assert client.request("GET", "/readyz").status == 503
        assert client.request("GET", "/healthz").status == 200

        valkey.start()
        again = client.post_events({"events": batch(1, 3)})
        assert again.status == 200 and again.body["accepted"] == 3
        server.stop()
    finally:
        valkey.stop()
    users = open_interactions(config.log_dir).to_table().column(s.USER_ID).to_pylist()
    assert sorted(users) == sorted(f"u{n}-{i}" for n in (0, 1) for i in range(3))
