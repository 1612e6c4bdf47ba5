"""A running Triton (explicit model control) switched from one trained version folder to another.

Version 2 is version 1 with the ranker's scores halved (same ranking, other scores), so
every answer tells which version's ranker produced it; version 3 has a corrupt ranker.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from recsys_operator.adapters.kube import KubernetesCluster
from recsys_operator.adapters.triton import URL_ENV, TritonPods
from recsys_operator.manifests.common import Owner
from recsys_workloads.models import artifacts
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.toolchain import Toolchain
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.recommender import Recommendation, RecommendationRequest
from recsys_workloads.serving.resources import Resources
from recsys_workloads.serving.triton.client import TritonRecommender
from recsys_workloads.serving.triton.repository import build_version_repository
from recsys_workloads.serving.triton.rollout import served_version_dir, switch_triton

from .conftest import SERVING, TRAINING_ONLY, scale_ranker_scores, seed_popularity

SCALE = 0.5
CLIENTS = 4


@dataclass
class Switchable:
    triton: TritonServer
    v1: Path
    v2: Path
    broken: Path
    request: RecommendationRequest
    v1_answer: Recommendation = field(init=False)

    def served(self) -> str | None:
        triton = httpclient.InferenceServerClient(self.triton.http_url)
        try:
            return served_version_dir(triton)
        finally:
            triton.close()  # an open connection holds Triton's shutdown for 30 s

    def ask(self) -> Recommendation:
        client = TritonRecommender(self.triton.grpc_url, "homepage", timeout_s=30.0)
        try:
            return client.recommend(self.request)
        finally:
            client.close()

    def version_of(self, answer: Recommendation) -> int | None:
        """1 or 2 by the scores; None for an answer neither version gives."""
        if answer.item_ids != self.v1_answer.item_ids:
            return None
        for number, scale in ((1, 1.0), (2, SCALE)):
            if np.allclose(answer.scores, np.asarray(self.v1_answer.scores) * scale, rtol=1e-4):
                return number
        return None


@pytest.fixture(scope="module")
def switchable(
    serving_version: Path, toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Switchable]:
    work = tmp_path_factory.mktemp("switch-versions")
    v1, v2, broken = (work / "models" / str(n) for n in (1, 2, 3))
    shutil.copytree(serving_version, v1, ignore=TRAINING_ONLY)
    shutil.copytree(serving_version, v2, ignore=TRAINING_ONLY)
    scale_ranker_scores(v2, SCALE)
    shutil.copytree(serving_version, broken, ignore=TRAINING_ONLY)
    (broken / artifacts.EXPORT_DIR / artifacts.DLRM_ONNX).write_bytes(b"not an onnx graph")
    user = str(Resources(serving_version).transforms.vocabularies["user_id"].values[0])
    with RedisServer(toolchain.redis_server, work / "redis") as store:
        seed_popularity(store.url, serving_version)
        repo = build_version_repository(v1, work / "repository", store.url, ("ensemble",), SERVING)
        server = TritonServer(toolchain, repo, work, model_control="explicit", load_models=["homepage"])
        server.start(timeout_s=300)
        try:
            request = RecommendationRequest(user, "web", 1_763_800_000, 8)
            stack = Switchable(server, v1.resolve(), v2.resolve(), broken.resolve(), request)
            stack.v1_answer = stack.ask()
            yield stack
        finally:
            # After a failed load Triton 2.51 keeps a phantom model version and waits out its
            # 30 s exit timeout; nothing here needs a graceful stop.
            server.process.stop(grace_s=3.0)


class Load:
    """`CLIENTS` threads asking in a loop; answers are tagged with their version and start time."""

    def __init__(self, stack: Switchable) -> None:
        self.stack = stack
        self.answers: list[tuple[float, int | None]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def _run(self) -> None:
        client = TritonRecommender(self.stack.triton.grpc_url, "homepage", timeout_s=30.0)
        deadline = time.monotonic() + 120
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                began = time.monotonic()
                try:
                    version = self.stack.version_of(client.recommend(self.stack.request))
                    self.answers.append((began, version))
                except Exception as exc:
                    self.failures.append(str(exc))
        finally:
            client.close()

    def versions(self, asked_after: float = 0.0) -> set[int | None]:
        return {v for t, v in self.answers if t >= asked_after}

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)  # requests are in flight before the switch starts
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.5)
        self._stop.set()
        for thread in self._threads:
            thread.join()


def test_a_running_triton_switches_to_version_2_without_a_failed_request(switchable: Switchable) -> None:
    assert switchable.served() == str(switchable.v1)
    with Load(switchable) as load:
        began = time.monotonic()
        result = switch_triton(switchable.triton.http_url, switchable.v2)
        switched = time.monotonic()
    print(
        f"\nswitch 1 -> 2 took {switched - began:.1f} s under {CLIENTS} clients; "
        f"{len(load.answers)} answers, {len(load.failures)} failed"
    )
    assert load.failures == []
    assert (result.transition, result.current_version, result.previous_version) == ("UpToDate", 2, 1)
    assert switchable.served() == str(switchable.v2)
    assert len(load.answers) > 20
    assert load.versions() == {1, 2}  # both served meanwhile, and nothing else
    assert load.versions(asked_after=switched) == {2}
    assert switchable.version_of(switchable.ask()) == 2


def test_a_broken_version_is_blocked_and_the_serving_one_never_stops(switchable: Switchable) -> None:
    serving = switchable.served()
    assert serving is not None
    number = int(Path(serving).name)
    with Load(switchable) as load:
        began = time.monotonic()
        result = switch_triton(switchable.triton.http_url, switchable.broken)
        blocked = time.monotonic()
    print(
        f"\nfailed switch to 3 and back took {blocked - began:.1f} s; "
        f"{len(load.answers)} answers, {len(load.failures)} failed; {result.message}"
    )
    assert load.failures == []
    assert (result.transition, result.current_version, result.previous_version) == (
        "BlockedByFailedLoad",
        number,
        number,
    )
    assert "dlrm_ranking" in result.message and str(switchable.broken) in result.message
    assert switchable.served() == serving
    assert load.versions() == {number}
    assert switchable.version_of(switchable.ask()) == number


def test_the_operators_adapter_reads_and_switches_the_running_triton(
    switchable: Switchable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`adapters/triton.py` on the same Triton: what it serves, and a switch to it is a no-op."""
    url = switchable.triton.http_url
    models = switchable.v1.parent
    monkeypatch.setenv(URL_ENV, url)
    owner = Owner(name="homepage", namespace="shop", uid="u")
    assert TritonPods.of(KubernetesCluster(), owner, "homepage").urls == [url]
    pods = TritonPods.at([url], "homepage", version_dir=lambda n: str(models / str(n)))
    ((served, *others),) = pods.served().values()
    assert others == [] and Path(served).parent == models
    number = int(Path(served).name)
    began = time.monotonic()
    result = pods.switch(number)
    assert time.monotonic() - began < 5.0  # nothing reloaded: every model is on it already
    assert result is not None
    assert (result.transition, result.current_version, result.previous_version) == (
        "UpToDate",
        number,
        number,
    )
    assert TritonPods.at([]).switch(number) is None  # no ready pod: the Deployment brings the version
