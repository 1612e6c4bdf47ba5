"""The real tritonserver binary that `make test` installs serves a Python-backend ensemble."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from recsys_workloads.runtime.process import ServerStartError
from recsys_workloads.runtime.toolchain import Toolchain
from recsys_workloads.runtime.triton_server import TritonServer

SMOKE_REPO = Path(__file__).parent / "data" / "smoke_repo"


@pytest.fixture(scope="module")
def triton(toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    work = tmp_path_factory.mktemp("triton")
    repo = work / "models"
    shutil.copytree(SMOKE_REPO, repo)
    with TritonServer(toolchain, repo, work) as server:
        yield server


def test_ensemble_of_two_python_steps_answers_over_grpc(triton: TritonServer) -> None:
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    x = np.array([1.0, 2.5, -3.0], dtype=np.float32)
    inp = grpcclient.InferInput("X", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer("smoke", [inp])
    np.testing.assert_allclose(result.as_numpy("Z"), 2 * x + 1)


def test_ensemble_answers_over_http_with_the_serving_venvs_numpy(triton: TritonServer) -> None:
    client = httpclient.InferenceServerClient(triton.http_url)
    x = np.arange(5, dtype=np.float32)
    inp = httpclient.InferInput("X", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer("smoke", [inp])
    np.testing.assert_allclose(result.as_numpy("Z"), 2 * x + 1)
    numpy_in_step = result.as_numpy("NUMPY_VERSION")[0].decode()
    assert numpy_in_step.startswith("1."), f"Python steps must run numpy<2, ran {numpy_in_step}"


def test_triton_binds_only_loopback_and_reports_all_models_ready(triton: TritonServer) -> None:
    client = httpclient.InferenceServerClient(triton.http_url)
    assert client.is_server_ready()
    index = {m["name"]: m["state"] for m in client.get_model_repository_index()}
    assert index == {"scale": "READY", "offset": "READY", "smoke": "READY"}


def test_a_broken_model_repository_fails_start_with_tritons_log(toolchain: Toolchain, tmp_path: Path) -> None:
    repo = tmp_path / "models"
    shutil.copytree(SMOKE_REPO, repo)
    (repo / "scale" / "1" / "model.py").write_text("raise ImportError('deliberately broken step')\n")
    server = TritonServer(toolchain, repo, tmp_path)
    with pytest.raises(ServerStartError, match="deliberately broken step"):
        server.start(timeout_s=60)
    assert not server.process.running()
