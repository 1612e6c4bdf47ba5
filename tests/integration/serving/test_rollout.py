"""Model versions rolled into a running Triton (explicit model control) without dropping requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from recsys_workloads.contracts.rollout import RolloutError
from recsys_workloads.runtime.toolchain import Toolchain
from recsys_workloads.runtime.triton_server import TritonServer
from recsys_workloads.serving.triton.rollout import (
    FAILED_PREFIX,
    roll_back,
    roll_out,
    stage_version,
    versions,
)

CONFIG = """name: "scale"
backend: "python"
max_batch_size: 0
input [ { name: "X" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { kind: KIND_CPU count: 1 } ]
"""
MODEL = """import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            x = pb_utils.get_input_tensor_by_name(r, "X").as_numpy()
            out.append(pb_utils.InferenceResponse([pb_utils.Tensor("Y", (x * FACTOR).astype(np.float32))]))
        return out
"""


def _writer(factor: float, broken: bool = False) -> object:
    def write(folder: Path) -> None:
        body = "raise ImportError('broken version')\n" if broken else MODEL.replace("FACTOR", repr(factor))
        (folder / "model.py").write_text(body)

    return write


def _ask(url: str) -> float:
    client = httpclient.InferenceServerClient(url)
    tensor = httpclient.InferInput("X", [1], "FP32")
    tensor.set_data_from_numpy(np.array([1.0], dtype=np.float32))
    return float(client.infer("scale", [tensor]).as_numpy("Y")[0])


@pytest.fixture
def served(toolchain: Toolchain, tmp_path: Path) -> Iterator[tuple[TritonServer, Path]]:
    model_dir = tmp_path / "models" / "scale"
    model_dir.mkdir(parents=True)
    (model_dir / "config.pbtxt").write_text(CONFIG)
    assert stage_version(model_dir, _writer(1.0)) == 1  # type: ignore[arg-type]
    server = TritonServer(
        toolchain, tmp_path / "models", tmp_path, model_control="explicit", load_models=["scale"]
    )
    server.start()
    try:
        yield server, model_dir
    finally:
        # After a failed load Triton 2.51 keeps a phantom model version and waits out its
        # 30 s exit timeout; nothing here needs a graceful stop.
        server.process.stop(grace_s=3.0)


class Load:
    """Requests in a loop while a rollout happens; counts answers and failures."""

    def __init__(self, url: str) -> None:
        self.url, self.ok, self.failed, self.seen = url, 0, 0, set[float]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self.seen.add(_ask(self.url))
                self.ok += 1
            except Exception:
                self.failed += 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_new_version_serves_after_rollout_and_no_request_fails_meanwhile(
    served: tuple[TritonServer, Path],
) -> None:
    server, model_dir = served
    triton = httpclient.InferenceServerClient(server.http_url)
    assert _ask(server.http_url) == 1.0
    with Load(server.http_url) as load:
        time.sleep(0.3)
        version = stage_version(model_dir, _writer(2.0))  # type: ignore[arg-type]
        result = roll_out(triton, model_dir, version, previous=1, canary=lambda: None)
        time.sleep(0.3)
    assert (result.current_version, result.previous_version, result.transition) == (2, 1, "UpToDate")
    assert _ask(server.http_url) == 2.0
    assert load.failed == 0 and load.ok > 10
    assert load.seen == {1.0, 2.0}


def test_a_version_that_fails_to_load_is_moved_aside_and_the_previous_keeps_serving(
    served: tuple[TritonServer, Path],
) -> None:
    server, model_dir = served
    triton = httpclient.InferenceServerClient(server.http_url)
    with Load(server.http_url) as load:
        version = stage_version(model_dir, _writer(0, broken=True))  # type: ignore[arg-type]
        result = roll_out(triton, model_dir, version, previous=1, canary=lambda: None)
    assert result.transition == "BlockedByFailedLoad"
    assert result.current_version == 1
    assert "broken version" in result.message
    assert _ask(server.http_url) == 1.0
    assert versions(model_dir) == [1]
    assert [p.name.startswith(FAILED_PREFIX) for p in model_dir.iterdir() if p.is_dir()].count(True) == 1
    assert load.failed == 0


def test_a_failed_canary_rolls_back_too(served: tuple[TritonServer, Path]) -> None:
    server, model_dir = served
    triton = httpclient.InferenceServerClient(server.http_url)
    version = stage_version(model_dir, _writer(-5.0))  # type: ignore[arg-type]

    def canary() -> None:
        if _ask(server.http_url) < 0:
            raise RolloutError("canary: negative score")

    result = roll_out(triton, model_dir, version, previous=1, canary=canary)
    assert (result.transition, result.current_version) == ("BlockedByFailedLoad", 1)
    assert _ask(server.http_url) == 1.0


def test_rollback_pins_an_earlier_version_still_on_the_volume(served: tuple[TritonServer, Path]) -> None:
    server, model_dir = served
    triton = httpclient.InferenceServerClient(server.http_url)
    version = stage_version(model_dir, _writer(3.0))  # type: ignore[arg-type]
    roll_out(triton, model_dir, version, previous=1, canary=lambda: None)
    assert _ask(server.http_url) == 3.0
    result = roll_back(triton, model_dir, to_version=1, current=version)
    assert (result.current_version, result.previous_version) == (1, version)
    assert _ask(server.http_url) == 1.0
    with pytest.raises(RolloutError, match="no version 7"):
        roll_back(triton, model_dir, to_version=7, current=1)


def test_staging_never_exposes_a_half_written_version(tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    model_dir.mkdir()

    def crash(folder: Path) -> None:
        (folder / "model.py").write_text("partial")
        raise OSError("disk full")

    def write(folder: Path) -> None:
        (folder / "model.py").write_text("ok")

    with pytest.raises(OSError, match="disk full"):
        stage_version(model_dir, crash)
    assert list(model_dir.iterdir()) == []
    assert stage_version(model_dir, write) == 1
    assert stage_version(model_dir, write) == 2
