"""One real kube-apiserver 1.20.2 per session (etcd + controller-manager), CRDs applied.

`make kube` builds the servers once into the cache; a missing build fails loudly with
that hint (nothing is skipped). Each test gets its own namespace, deleted afterwards.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from recsys_local.testbed.cluster import CrdRejectedError, KubeCluster
from recsys_local.testbed.kube_apiserver import KubeApiServer, KubeBinariesMissingError, find_binaries
from recsys_workloads.runtime.process import ServerStartError

REPO = Path(__file__).resolve().parents[3]
CRDS = sorted((REPO / "crds").glob("*.yaml"))


@pytest.fixture(scope="session")
def kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    try:
        binaries = find_binaries()
    except KubeBinariesMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    server = KubeApiServer(tmp_path_factory.mktemp("kube"), binaries)
    try:
        server.start()
    except ServerStartError as exc:
        pytest.fail(f"the test kube-apiserver did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kube_cluster(kube_server: KubeApiServer) -> Iterator[KubeCluster]:
    """The running cluster with the project's CRDs (crds/*.yaml, from `make crds`) established."""
    assert CRDS, f"no CRDs under {REPO / 'crds'}: run `make crds`"
    cluster = KubeCluster(kube_server)
    began = time.monotonic()
    try:
        applied = cluster.apply_crds(CRDS)
    except CrdRejectedError as exc:
        pytest.fail(f"the API server rejected a generated CRD: {exc}", pytrace=False)
    if not applied:
        pytest.fail(f"no CustomResourceDefinition in {[p.name for p in CRDS]}", pytrace=False)
    cluster.crds_applied_s = time.monotonic() - began
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def namespace(kube_cluster: KubeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test; deletion is requested on teardown."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = kube_cluster.create_namespace(f"{stem}-{secrets.token_hex(3)}")
    try:
        yield name
    finally:
        kube_cluster.delete_namespace(name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing kube test also shows the servers' log tails (a crash explains many failures)."""
    report = yield
    server = getattr(item, "funcargs", {}).get("kube_server")
    if call.when == "call" and report.failed and isinstance(server, KubeApiServer):
        report.sections.append(("kube server logs", server.log_tails()))
    return report
