"""NVIDIA Triton Inference Server (the real binary) on loopback ports.

The Python-backend stub embeds the interpreter and runs the first `python3` on PATH, so
the serving venv goes first on PATH, and its libpython's folder on LD_LIBRARY_PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from recsys_workloads.runtime.ports import LOOPBACK, free_ports
from recsys_workloads.runtime.process import ManagedProcess, Server
from recsys_workloads.runtime.toolchain import Toolchain

ModelControl = Literal["none", "explicit", "poll"]

# glog error lines, minus the CUDA-driver noise every CPU-only start prints.
TRITON_ERROR_LINE = re.compile(r"^E\d{4} (?!.*(CudaDriverHelper|NVML|DCGM))")


class TritonPorts(BaseModel):
    http: int
    grpc: int
    metrics: int

    @classmethod
    def free(cls) -> TritonPorts:
        http, grpc, metrics = free_ports(3)
        return cls(http=http, grpc=grpc, metrics=metrics)


@lru_cache(maxsize=8)
def _python_libdir(python: Path) -> str:
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def serving_environment(toolchain: Toolchain, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment in which Triton's Python steps import the serving venv, not ours."""
    env = dict(os.environ if base is None else base)
    venv_bin = str(toolchain.serving_venv / "bin")
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(toolchain.serving_venv)
    env.pop("PYTHONHOME", None)
    env.pop("PYTHONPATH", None)  # the driver's site-packages (numpy 2) must not leak into steps
    libdir = _python_libdir(toolchain.serving_python)
    if libdir:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in [libdir, env.get("LD_LIBRARY_PATH", "")] if p)
    return env


def triton_argv(
    toolchain: Toolchain,
    model_repository: Path,
    ports: TritonPorts,
    model_control: ModelControl = "none",
    load_models: Sequence[str] = (),
) -> list[str]:
    argv = [
        str(toolchain.tritonserver),
        f"--model-repository={model_repository}",
        f"--backend-directory={toolchain.triton_backends}",
        f"--http-address={LOOPBACK}",
        f"--grpc-address={LOOPBACK}",
        f"--http-port={ports.http}",
        f"--grpc-port={ports.grpc}",
        f"--metrics-port={ports.metrics}",
        "--allow-metrics=true",
        "--strict-readiness=true",
        "--exit-on-error=true",
        f"--model-control-mode={model_control}",
    ]
    argv += [f"--load-model={name}" for name in load_models]
    return argv


class TritonServer(Server):
    """A tritonserver process serving `model_repository` on free loopback ports."""

    def __init__(
        self,
        toolchain: Toolchain,
        model_repository: Path,
        workdir: Path,
        model_control: ModelControl = "none",
        load_models: Sequence[str] = (),
        ports: TritonPorts | None = None,
    ) -> None:
        self.ports = ports or TritonPorts.free()
        argv = triton_argv(toolchain, model_repository, self.ports, model_control, load_models)
        self.process = ManagedProcess(
            f"tritonserver:{self.ports.http}",
            argv,
            workdir / "tritonserver.log",
            env=serving_environment(toolchain),
            cwd=workdir,
            ports=[self.ports.http, self.ports.grpc, self.ports.metrics],
            error_line=TRITON_ERROR_LINE,
        )

    @property
    def http_url(self) -> str:
        return f"{LOOPBACK}:{self.ports.http}"

    @property
    def grpc_url(self) -> str:
        return f"{LOOPBACK}:{self.ports.grpc}"

    def is_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout_s: float = 120.0) -> TritonServer:
        self.process.start()
        self.process.wait_ready(self.is_ready, timeout_s, interval_s=0.25)
        return self

    def stop(self) -> int | None:
        return self.process.stop(grace_s=30.0)
