"""Shared fixtures: real servers on free loopback ports, stopped by PID on teardown.

Missing binaries fail loudly (`make test` installs them); nothing is silently skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class Clock:
    """A time source the test sets (`clock.now += 1`), for code that takes `clock=`."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


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


# --- a real S3 API server on loopback (moto's server mode, its own process) -------------------


def version_stub(root: Path) -> Path:
    """A model version folder with the files `check_version` requires, all empty (rendering reads none)."""
    from recsys_workloads.models import artifacts

    for relative in (
        Path(artifacts.TRANSFORMS_DIR) / "transforms.json",
        Path(artifacts.ITEMS_FILE),
        Path(artifacts.INDEX_DIR) / "items.faiss",
        Path(artifacts.EXPORT_DIR) / artifacts.QUERY_TOWER_ONNX,
        Path(artifacts.EXPORT_DIR) / artifacts.DLRM_ONNX,
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"")
    return root


class S3Server:
    """moto's S3 (and IAM) server as a child process on a free loopback port.

    Its own process: memory measured in a test is the client's alone, and its IAM enforcement
    switch (/moto-api/reset-auth) does not leak into in-process moto servers of other tests.
    """

    REGION = "us-east-1"

    def __init__(self, workdir: Path) -> None:
        import sys

        from recsys_workloads.runtime.ports import LOOPBACK, free_port
        from recsys_workloads.runtime.process import ManagedProcess

        self.port = free_port()
        self.endpoint = f"http://{LOOPBACK}:{self.port}"
        self.process = ManagedProcess(
            f"moto-server:{self.port}",
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
            workdir / "moto.log",
            ports=[self.port],
        )

    def start(self) -> S3Server:
        self.process.start()
        self.process.wait_ready(self._answers, timeout_s=60)
        return self

    def _answers(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=1):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def control(self, path: str, body: str = "") -> None:
        """POST to moto's control API (/moto-api/reset, /moto-api/reset-auth)."""
        import urllib.request

        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/{path}",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},  # not a form: moto reads the raw body
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def client(self, service: str = "s3", key: str = "testing", secret: str = "testing") -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )


@dataclass
class S3Bucket:
    """One empty bucket on the loopback S3 server; boto3's default chain in the test finds it
    through AWS_ENDPOINT_URL and the AWS_* keys, as a pod finds its endpoint and IRSA role."""

    server: S3Server
    name: str
    monkeypatch: pytest.MonkeyPatch

    def uri(self, *parts: str) -> str:
        return "/".join([f"s3://{self.name}", *(p.strip("/") for p in parts if p)])

    def client(self) -> Any:
        return self.server.client()

    def put_dir(self, local: Path, prefix: str) -> str:
        """Every file under `local` to `prefix`; returns the prefix's s3:// uri."""
        client = self.client()
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            client.upload_file(str(path), self.name, f"{prefix}/{path.relative_to(local).as_posix()}")
        return self.uri(prefix)

    def use_credentials(self, key: str, secret: str) -> None:
        """The default chain now finds these keys (an IRSA role without the permission, say)."""
        self.monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
        self.monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)

    def enforce_iam(self) -> None:
        """From the next request on, the server checks every request against IAM (moto's
        INITIAL_NO_AUTH_ACTION_COUNT, set through its control API); undone after the test."""
        self.server.control("reset-auth", "0")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("moto")).start()
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Bucket]:
    """An empty account with bucket `recsys`, and the environment boto3's default chain reads."""
    s3_server.control("reset-auth", "inf")
    s3_server.control("reset")
    for name, value in {
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": S3Server.REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",  # nothing of this machine's own AWS setup
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    s3_server.client().create_bucket(Bucket="recsys")
    try:
        yield S3Bucket(s3_server, "recsys", monkeypatch)
    finally:
        s3_server.control("reset-auth", "inf")
