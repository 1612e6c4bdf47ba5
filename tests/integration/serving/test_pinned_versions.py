"""Pinned versions beside the current one in one real Triton: each ensemble answers from its folder.

Versions 2 and 3 are version 1 with the ranker's scores scaled (same items, other scores),
so every answer names the folder whose ranker produced it. Triton starts on both graphs of
version 1; then, as local mode does, the repository is rerendered in place with pinned
version 2 (validated in another real Triton first, canaries included) and the pinned
ensembles are loaded live. A live switch to version 3 must leave them on version 2.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from recsys_workloads.contracts.serving import ENSEMBLE_OF, Graph, pinned_ensemble, pinned_version
from recsys_workloads.models import artifacts
from recsys_workloads.runtime.redis_server import RedisServer
from recsys_workloads.runtime.toolchain import Toolchain
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.recommender import Recommendation, RecommendationRequest
from recsys_workloads.serving.resources import Resources
from recsys_workloads.serving.triton.client import TritonRecommender
from recsys_workloads.serving.triton.repository import RepositoryError, build_version_repository
from recsys_workloads.serving.triton.rollout import (
    PinnedSync,
    served_version_dir,
    switch_triton,
    sync_pinned_triton,
)

from .conftest import SERVING, TRAINING_ONLY, scale_ranker_scores, seed_popularity

SCALES = {1: 1.0, 2: 0.5, 3: 0.25}
GRAPHS: tuple[Graph, ...] = ("ensemble", "fused")
PINNED = [pinned_ensemble(g, 2) for g in GRAPHS]


@dataclass
class Stack:
    triton: TritonServer
    repository: Path
    redis_url: str
    folders: dict[int, Path]
    request: RecommendationRequest
    baseline: dict[str, Recommendation]  # version 1's answer per current ensemble

    def ask(self, ensemble: str) -> Recommendation:
        client = TritonRecommender(self.triton.grpc_url, ensemble, timeout_s=30.0)
        try:
            return client.recommend(self.request)
        finally:
            client.close()

    def version_of(self, ensemble: str) -> int | None:
        """The version whose ranker answered `ensemble`; None for an answer no version gives."""
        base = ensemble.split("__v")[0]
        answer, reference = self.ask(ensemble), self.baseline[base]
        if answer.item_ids != reference.item_ids:
            return None
        scores = np.asarray(reference.scores)
        found = [n for n, s in SCALES.items() if np.allclose(answer.scores, scores * s, rtol=1e-4)]
        return found[0] if len(found) == 1 else None

    def loaded(self) -> set[str]:
        triton = httpclient.InferenceServerClient(self.triton.http_url)
        try:
            index = triton.get_model_repository_index()
        finally:
            triton.close()  # an open connection holds Triton's shutdown for 30 s
        return {m["name"] for m in index if m.get("state") == "READY"}

    def rss_mib(self) -> float:
        """Resident memory of Triton and its Python-backend stubs (its children, one per model instance)."""
        server = str(self.triton.process.pid)
        total_kib = 0
        for proc in Path("/proc").iterdir():
            try:
                status = dict(
                    line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line
                )
            except OSError:  # not a process, or gone meanwhile
                continue
            if server in (proc.name, status.get("PPid", "").strip()):
                total_kib += int(status.get("VmRSS", "0 kB").split()[0])
        return total_kib / 1024

    def served(self) -> str | None:
        triton = httpclient.InferenceServerClient(self.triton.http_url)
        try:
            return served_version_dir(triton)
        finally:
            triton.close()


@pytest.fixture(scope="module")
def stack(
    serving_version: Path, toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("pinned-versions")
    folders = {n: (work / "models" / str(n)) for n in SCALES}
    for number, folder in folders.items():
        shutil.copytree(serving_version, folder, ignore=TRAINING_ONLY)
        if SCALES[number] != 1.0:
            scale_ranker_scores(folder, SCALES[number])
    folders = {n: f.resolve() for n, f in folders.items()}
    user = str(Resources(serving_version).transforms.vocabularies["user_id"].values[0])
    with RedisServer(toolchain.redis_server, work / "redis") as store:
        seed_popularity(store.url, serving_version)
        repo = build_version_repository(folders[1], work / "repository", store.url, GRAPHS, SERVING)
        server = TritonServer(
            toolchain, repo, work, model_control="explicit", load_models=[ENSEMBLE_OF[g] for g in GRAPHS]
        )
        server.start(timeout_s=300)
        try:
            request = RecommendationRequest(user, "web", 1_763_800_000, 8)
            stack = Stack(server, repo, store.url, folders, request, {})
            stack.baseline = {ENSEMBLE_OF[g]: stack.ask(ENSEMBLE_OF[g]) for g in GRAPHS}
            yield stack
        finally:
            server.process.stop(grace_s=3.0)


def test_a_pinned_version_that_fails_to_load_in_validation_is_refused(
    serving_version: Path, toolchain: Toolchain, tmp_path: Path
) -> None:
    """Validation loads the pinned ensembles too: a broken arm never reaches the repository in place."""
    good = build_version_repository(serving_version, tmp_path / "models", "", ("fused",))
    broken = tmp_path / "4"
    shutil.copytree(serving_version, broken, ignore=TRAINING_ONLY)
    (broken / artifacts.EXPORT_DIR / artifacts.DLRM_ONNX).write_bytes(b"not an onnx graph")
    with pytest.raises(RepositoryError, match="failed validation") as refused:
        build_version_repository(
            serving_version, good, "", ("fused",), toolchain=toolchain, pinned={4: broken}
        )
    assert "fused_retrieve_rank__v4" in str(refused.value)
    assert "homepage_fused__v4" not in {p.name for p in good.iterdir()}


def test_pinned_versions_load_live_and_answer_from_their_folder_through_a_switch(
    stack: Stack, toolchain: Toolchain
) -> None:
    url = stack.triton.http_url
    assert all(len(a.item_ids) == 8 for a in stack.baseline.values())
    began = time.monotonic()
    build_version_repository(
        stack.folders[1],
        stack.repository,
        stack.redis_url,
        GRAPHS,
        SERVING,
        toolchain,
        pinned={2: stack.folders[2]},
    )
    print(
        f"\nrerendered with pinned version 2, validated in another Triton, in {time.monotonic() - began:.0f} s"
    )
    assert set(PINNED) <= {p.name for p in stack.repository.iterdir()}
    assert not {m for m in stack.loaded() if pinned_version(m) is not None}  # explicit model control
    for graph in GRAPHS:
        assert stack.version_of(ENSEMBLE_OF[graph]) == 1  # the rerender changed nothing that serves
    began, before = time.monotonic(), stack.rss_mib()
    assert sync_pinned_triton(url, PINNED) == PinnedSync(PINNED, [])
    print(
        f"\nloaded {PINNED} live in {time.monotonic() - began:.0f} s; Triton's resident memory "
        f"{before:.0f} -> {stack.rss_mib():.0f} MiB"
    )
    for graph in GRAPHS:
        assert stack.version_of(ENSEMBLE_OF[graph]) == 1
        assert stack.version_of(pinned_ensemble(graph, 2)) == 2

    result = switch_triton(url, stack.folders[3])
    assert (result.transition, result.current_version, result.previous_version) == ("UpToDate", 3, 1)
    assert stack.served() == str(stack.folders[3])  # pinned models do not count as disagreeing
    for graph in GRAPHS:
        assert stack.version_of(ENSEMBLE_OF[graph]) == 3
        assert stack.version_of(pinned_ensemble(graph, 2)) == 2  # the arm stayed on its version

    assert sync_pinned_triton(url, PINNED[:1]) == PinnedSync(PINNED[:1], [])
    loaded = stack.loaded()
    assert PINNED[0] in loaded and not {m for m in loaded if m.startswith("fused_") and pinned_version(m)}
    assert sync_pinned_triton(url, []) == PinnedSync([], [])
    assert not {m for m in stack.loaded() if pinned_version(m) is not None}
    assert "context_preprocessor" in stack.loaded()  # shared with the current graph: kept
    for graph in GRAPHS:
        assert stack.version_of(ENSEMBLE_OF[graph]) == 3
