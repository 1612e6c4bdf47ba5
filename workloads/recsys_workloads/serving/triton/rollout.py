"""Roll a model version into a running Triton without dropping requests.

Two granularities, both through Triton's repository API (explicit model control):

- One Triton model with numbered versions (`roll_out`, `roll_back`): new versions are
  written under a non-numeric name (Triton ignores those), renamed to the next version
  number (atomic on one filesystem, also on the shared model volume), loaded pinned and
  checked with a canary request; a failing one is moved aside.
- A trained model version folder behind the whole homepage graph (`switch_version`;
  `switch_triton` given Triton's HTTP address): every step model reads its `version_dir`
  parameter once, at `initialize`, so switching means reloading each of them with that one
  parameter changed. Triton keeps serving the loaded instance until its replacement is
  ready, so no request fails meanwhile; steps briefly run different versions, which
  incremental fine-tuning keeps valid (same candidate tower and FAISS index). A failed
  load or canary reloads the previous folder everywhere. A Triton pod that starts later
  renders its repository for the version its template names (`serving.pod_repository`,
  `python -m recsys_workloads.serving.triton.pod_repository DEST`, docs/decisions/0009).

Either way the previous version keeps serving on failure and the caller records
`BlockedByFailedLoad`. Pinned versions (an experiment's arms, `<model>__v<N>` beside the
current graph, docs/decisions/0024) are never switched; `sync_pinned` loads and unloads them.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from recsys_workloads.contracts.rollout import RolloutError, RolloutResult
from recsys_workloads.contracts.serving import ENSEMBLE, pinned_version

STAGING_PREFIX = ".staging-"
FAILED_PREFIX = ".failed-"
VERSION_DIR = "version_dir"  # the step models' parameter naming the trained version folder


class TritonRepository(Protocol):
    """What rollout needs of Triton's model repository API (tritonclient's http client has it)."""

    def load_model(self, model_name: str, config: str | None = None) -> None: ...

    def get_model_config(self, model_name: str) -> dict[str, object]: ...

    def is_model_ready(self, model_name: str, model_version: str = "") -> bool: ...

    def get_model_repository_index(self) -> list[dict[str, object]]: ...


class PinnedRepository(TritonRepository, Protocol):
    """`sync_pinned` also unloads (tritonclient's http client has it)."""

    def unload_model(self, model_name: str) -> None: ...


def versions(model_dir: Path) -> list[int]:
    """Numeric version folders, oldest first (staging and failed folders are not versions)."""
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def stage_version(model_dir: Path, write: Callable[[Path], None]) -> int:
    """Write a version through `write(folder)` and publish it under the next number."""
    staging = model_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        write(staging)
        number = (versions(model_dir) or [0])[-1] + 1
        staging.rename(model_dir / str(number))  # fails, never overwrites, if the number was taken
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return number


def _pinned_config(triton: TritonRepository, model: str, version: int) -> str:
    config = dict(triton.get_model_config(model))
    config["version_policy"] = {"specific": {"versions": [version]}}
    return json.dumps(config)


def roll_out(
    triton: TritonRepository,
    model_dir: Path,
    version: int,
    previous: int | None,
    canary: Callable[[], None],
) -> RolloutResult:
    """Load `version` of the model in `model_dir`, keep it only if the canary passes."""
    model = model_dir.name
    try:
        triton.load_model(model, config=_pinned_config(triton, model, version))
        if not triton.is_model_ready(model, str(version)):
            raise RolloutError(f"{model} version {version} is not ready after loading")
        canary()
    except Exception as exc:
        (model_dir / str(version)).rename(model_dir / f"{FAILED_PREFIX}{version}-{uuid.uuid4().hex[:6]}")
        restore = f"; restored version {previous}" if previous is not None else ""
        if previous is not None:
            try:
                triton.load_model(model, config=_pinned_config(triton, model, previous))
            except Exception as restore_exc:  # report both: the operator must not hide either
                restore = f"; restoring version {previous} failed too: {restore_exc}"
        return RolloutResult(
            model=model,
            current_version=previous,
            previous_version=previous,
            transition="BlockedByFailedLoad",
            message=f"version {version}: {exc}{restore}",
        )
    return RolloutResult(
        model=model, current_version=version, previous_version=previous, transition="UpToDate"
    )


def roll_back(
    triton: TritonRepository, model_dir: Path, to_version: int, current: int | None
) -> RolloutResult:
    """Pin an earlier version that is still on the volume."""
    if to_version not in versions(model_dir):
        raise RolloutError(
            f"{model_dir.name} has no version {to_version} to roll back to: {versions(model_dir)}"
        )
    triton.load_model(model_dir.name, config=_pinned_config(triton, model_dir.name, to_version))
    return RolloutResult(
        model=model_dir.name, current_version=to_version, previous_version=current, transition="UpToDate"
    )


def version_number(version_dir: str | Path | None) -> int | None:
    """The number of a published version folder (`<model repository>/<N>`), else None."""
    if version_dir is None:
        return None
    name = PurePosixPath(str(version_dir)).name
    return int(name) if name.isdigit() else None


def _version_dir_of(config: Mapping[str, object]) -> str | None:
    parameters = config.get("parameters")
    value = parameters.get(VERSION_DIR) if isinstance(parameters, dict) else None
    found = value.get("string_value") if isinstance(value, dict) else None
    return str(found) if found else None


def _with_version_dir(config: Mapping[str, object], version_dir: str) -> str:
    found = config.get("parameters")
    parameters = dict(found) if isinstance(found, dict) else {}
    parameters[VERSION_DIR] = {"string_value": version_dir}
    return json.dumps({**config, "parameters": parameters})


def versioned_configs(triton: TritonRepository) -> dict[str, dict[str, object]]:
    """Loaded models whose config names a `version_dir`, with that config; ensembles last.

    Every loaded model counts, not only one graph's steps: a repository holding both the
    14-step and the fused graph switches both. Pinned models (`pinned_version` of the name)
    do not: an experiment arm stays on its version whatever the current one becomes.
    """
    ready = sorted(n for n in _ready(triton) if pinned_version(n) is None)
    configs = {name: dict(triton.get_model_config(name)) for name in ready}
    found = {name: c for name, c in configs.items() if _version_dir_of(c)}
    return dict(sorted(found.items(), key=lambda item: item[1].get("platform") == "ensemble"))


def served_version_dirs(triton: TritonRepository) -> dict[str, str]:
    """model name -> the version folder its loaded instance reads."""
    return {name: str(_version_dir_of(c)) for name, c in versioned_configs(triton).items()}


def served_version_dir(triton: TritonRepository) -> str | None:
    """The version folder every versioned model serves; None if none does or they disagree.

    They disagree only in the middle of a switch (or after one that died midway): calling
    `switch_version` again settles it. Callers compare this to their target to be idempotent.
    """
    found = set(served_version_dirs(triton).values())
    return found.pop() if len(found) == 1 else None


Connect = Callable[[], TritonRepository]


def switch_version(
    triton: TritonRepository,
    version_dir: str | Path,
    canary: Callable[[], None],
    model: str = ENSEMBLE,
    connect: Connect | None = None,
    parallel: int = 4,
) -> RolloutResult:
    """Make a running Triton serve the trained version folder `version_dir`, or keep the old one.

    `version_dir` is the folder as Triton's processes see it (absolute; e.g. `/models/3` on
    the shared volume, or the local path in local mode). Each loaded model with a
    `version_dir` parameter is reloaded with its current config and that parameter replaced
    (models already on it are left alone), then `canary()` must pass (e.g. `http_canary`).
    With `connect` (a factory of more clients of the same Triton) up to `parallel` models
    load at once, each on its own client: Triton loads them concurrently, which shortens
    the switch and the window in which steps run different versions.
    On any failure, every model is reloaded with the config it had before and the result
    says `BlockedByFailedLoad` with the reason; the previous version never stopped serving.
    `model` only names the result; its versions are the folders' numbers.
    """
    target = str(PurePosixPath(str(version_dir)))
    if not PurePosixPath(target).is_absolute():
        raise ValueError(f"version_dir must be absolute as Triton sees it, got {target!r}")
    before = versioned_configs(triton)
    if not before:
        raise RolloutError("no loaded Triton model has a version_dir parameter: nothing to switch")
    previous_dirs = Counter(str(_version_dir_of(c)) for c in before.values() if _version_dir_of(c) != target)
    previous = version_number(previous_dirs.most_common(1)[0][0]) if previous_dirs else None
    jobs = [(n, _with_version_dir(c, target)) for n, c in before.items() if _version_dir_of(c) != target]
    steps = [j for j in jobs if before[j[0]].get("platform") != "ensemble"]
    ensembles = [j for j in jobs if before[j[0]].get("platform") == "ensemble"]
    loader = _Loader(triton, connect, parallel)
    failures = loader.load(steps, stop_early=True) or loader.load(ensembles, stop_early=True)
    if not failures:
        try:
            canary()
        except Exception as exc:
            failures = [f"canary: {_first_line(exc)}"]
    if failures:
        moved = [(n, json.dumps(c)) for n, c in before.items() if not _serves(triton, n, _version_dir_of(c))]
        not_restored = loader.load(moved, stop_early=False)
        restored = (
            f"restoring the previous version failed: {'; '.join(not_restored)}"
            if not_restored
            else f"the previous version serves ({len(moved)} models reloaded back)"
        )
        return RolloutResult(
            model=model,
            current_version=previous,
            previous_version=previous,
            transition="BlockedByFailedLoad",
            message=f"{target}: {failures[0]}; {restored}",
        )
    return RolloutResult(
        model=model, current_version=version_number(target), previous_version=previous, transition="UpToDate"
    )


class _Loader:
    """Loads (model, config JSON) pairs: on `triton` one by one, or on clients from `connect` at once."""

    def __init__(self, triton: TritonRepository, connect: Connect | None, parallel: int) -> None:
        self.triton, self.connect, self.parallel = triton, connect, max(1, parallel)

    def load(self, jobs: Sequence[tuple[str, str]], stop_early: bool) -> list[str]:
        """Failures as `model: reason`; with `stop_early` nothing new starts after the first."""
        connect = self.connect
        if connect is None or self.parallel == 1 or len(jobs) < 2:
            failures: list[str] = []
            for name, config in jobs:
                if (failure := _load(self.triton, name, config)) is not None:
                    failures.append(failure)
                    if stop_early:
                        break
            return failures
        clients: queue.SimpleQueue[TritonRepository] = queue.SimpleQueue()
        opened: list[TritonRepository] = []
        failures = []
        lock = threading.Lock()

        def run(name: str, config: str) -> None:
            if stop_early and failures:
                return  # a load failed meanwhile: start no other
            try:
                client = clients.get_nowait()
            except queue.Empty:
                client = connect()
                with lock:
                    opened.append(client)
            try:
                if (failure := _load(client, name, config)) is not None:
                    with lock:
                        failures.append(failure)
            finally:
                clients.put(client)

        try:
            with ThreadPoolExecutor(min(self.parallel, len(jobs))) as pool:
                for future in [pool.submit(run, name, config) for name, config in jobs]:
                    future.result()
            return failures
        finally:
            for client in opened:
                close = getattr(client, "close", None)
                if callable(close):
                    close()


def _ready(triton: TritonRepository) -> set[str]:
    return {str(m["name"]) for m in triton.get_model_repository_index() if m.get("state") == "READY"}


def _steps_of(config: Mapping[str, object]) -> set[str]:
    scheduling = config.get("ensemble_scheduling")
    steps = scheduling.get("step") if isinstance(scheduling, dict) else None
    return {str(s["model_name"]) for s in steps or [] if isinstance(s, dict) and "model_name" in s}


@dataclass(frozen=True)
class PinnedSync:
    """What `sync_pinned` left loaded, and why the other wanted ensembles are not."""

    served: list[str]
    failures: list[str]


def sync_pinned(
    triton: PinnedRepository, ensembles: Sequence[str], canary_of: Callable[[str], Callable[[], None]]
) -> PinnedSync:
    """Make the loaded pinned ensembles `ensembles` (already rendered in the repository).

    Each one not loaded is loaded from the repository (Triton loads its steps with it) and
    must pass `canary_of(ensemble)()`; then every pinned model that no served ensemble is or
    references is unloaded: those of versions no longer wanted, and a failed one's, so a
    failure leaves nothing half-loaded. Shared steps and the current graph are never touched.
    """
    unpinned = [e for e in ensembles if pinned_version(e) is None]
    if unpinned:
        raise ValueError(f"not pinned ensembles: {unpinned}")
    ready = _ready(triton)
    failures: dict[str, str] = {}
    for ensemble in (e for e in ensembles if e not in ready):
        try:
            triton.load_model(ensemble)
            if not triton.is_model_ready(ensemble):
                raise RolloutError("not ready after loading")
            canary_of(ensemble)()
        except Exception as exc:
            failures[ensemble] = f"{ensemble}: {_first_line(exc)}"
    ready = _ready(triton)
    served = [e for e in ensembles if e in ready and e not in failures]
    needed = set(served).union(*(_steps_of(triton.get_model_config(e)) for e in served))
    stale = [n for n in sorted(ready) if pinned_version(n) is not None and n not in needed]
    # Ensembles first: no loaded ensemble is left referencing an unloaded step.
    stale.sort(key=lambda name: triton.get_model_config(name).get("platform") != "ensemble")
    for name in stale:
        try:
            triton.unload_model(name)
        except Exception as exc:
            failures[f"unload {name}"] = f"unloading {name}: {_first_line(exc)}"
    return PinnedSync(served, list(failures.values()))


def _load(triton: TritonRepository, name: str, config: str) -> str | None:
    try:
        triton.load_model(name, config=config)
        if not triton.is_model_ready(name):
            return f"{name}: not ready after loading"
    except Exception as exc:
        return f"{name}: {_first_line(exc)}"
    return None


def _serves(triton: TritonRepository, name: str, version_dir: str | None) -> bool:
    try:
        return _version_dir_of(triton.get_model_config(name)) == version_dir and triton.is_model_ready(name)
    except Exception:  # unloaded or unreachable: not serving it
        return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def http_canary(url: str, ensemble: str = ENSEMBLE, num_items: int = 5) -> Callable[[], None]:
    """A canary for `switch_version`: one anonymous request through `ensemble` must return items.

    `url` is Triton's HTTP address (`host:port`); tritonclient and NumPy are imported only
    when the canary runs.
    """

    def canary() -> None:
        import numpy as np
        import tritonclient.http as httpclient

        empty = np.array([b""], dtype=np.object_)
        tensors = [
            ("USER_ID", empty, "BYTES"),
            ("DEVICE", empty, "BYTES"),
            ("TIMESTAMP", np.array([0], dtype=np.int64), "INT64"),
            ("NUM_ITEMS", np.array([num_items], dtype=np.int32), "INT32"),
            ("EXCLUDE_ITEM_IDS", empty, "BYTES"),
        ]
        inputs = []
        for name, value, datatype in tensors:
            tensor = httpclient.InferInput(name, list(value.shape), datatype)
            tensor.set_data_from_numpy(value)
            inputs.append(tensor)
        client = httpclient.InferenceServerClient(url)
        try:
            result = client.infer(ensemble, inputs, outputs=[httpclient.InferRequestedOutput("ITEM_IDS")])
        finally:
            client.close()
        items = result.as_numpy("ITEM_IDS")
        if items is None or items.size == 0:
            raise RolloutError(f"canary: {ensemble} returned no items")

    return canary


def sync_pinned_triton(url: str, ensembles: Sequence[str], timeout_s: float = 300.0) -> PinnedSync:
    """`sync_pinned` on the Triton at `url` (HTTP `host:port`), each ensemble's canary `http_canary`."""
    import tritonclient.http as httpclient

    triton = httpclient.InferenceServerClient(url, network_timeout=timeout_s)
    try:
        return sync_pinned(triton, ensembles, lambda ensemble: http_canary(url, ensemble))
    finally:
        triton.close()


def switch_triton(
    url: str, version_dir: str | Path, ensemble: str = ENSEMBLE, parallel: int = 4, timeout_s: float = 300.0
) -> RolloutResult:
    """`switch_version` of the Triton at `url` (HTTP `host:port`), canary through `ensemble`.

    The simple entry point (local mode, the operator's adapter): its own HTTP clients,
    `parallel` loads at once, each load allowed `timeout_s`; every client is closed after
    (an open one would hold Triton's shutdown for its exit timeout).
    """
    import tritonclient.http as httpclient

    def connect() -> TritonRepository:
        client: TritonRepository = httpclient.InferenceServerClient(url, network_timeout=timeout_s)
        return client

    triton = httpclient.InferenceServerClient(url, network_timeout=timeout_s)
    try:
        return switch_version(triton, version_dir, http_canary(url, ensemble), ensemble, connect, parallel)
    finally:
        triton.close()
