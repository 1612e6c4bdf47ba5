"""Where the real server binaries of local mode live, and a clear error when one is missing.

`make tools` installs them: Triton 2.51 from PyPI's nvidia-pytriton wheel (own venv,
it pins numpy<2), the serving venv whose `python3` Triton's Python-backend stub runs
(numpy 1.26: with numpy 2 every output arrives empty), and Debian's redis-server.
Environment variables override each location, so NVIDIA's Triton image
(`RECSYS_TRITON_HOME=/opt/tritonserver`, same layout) works unchanged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

TRITON_HOME_ENV = "RECSYS_TRITON_HOME"
SERVING_VENV_ENV = "RECSYS_SERVING_VENV"
REDIS_SERVER_ENV = "RECSYS_REDIS_SERVER"
HOME_ENV = "RECSYS_HOME"

INSTALL_HINT = "run `make tools` in the repository root"


class ToolchainError(RuntimeError):
    """A required binary or environment is missing; the message says how to install it."""


class Toolchain(BaseModel):
    """Resolved paths of the binaries local mode starts."""

    model_config = ConfigDict(frozen=True)

    tritonserver: Path
    triton_backends: Path
    serving_venv: Path
    redis_server: Path

    @property
    def serving_python(self) -> Path:
        return self.serving_venv / "bin" / "python"


def repo_root(env: Mapping[str, str] = os.environ) -> Path:
    """The checkout this package was installed from (editable install) or RECSYS_HOME."""
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV])
    return Path(__file__).resolve().parents[3]


def find_triton_home(root: Path, env: Mapping[str, str] = os.environ) -> Path:
    if env.get(TRITON_HOME_ENV):
        home = Path(env[TRITON_HOME_ENV])
    else:
        candidates = sorted((root / ".venv-triton").glob("lib/python3*/site-packages/pytriton/tritonserver"))
        if not candidates:
            raise ToolchainError(
                f"Triton server not found under {root / '.venv-triton'}: {INSTALL_HINT} "
                f"or set {TRITON_HOME_ENV} to a folder holding bin/tritonserver and backends/."
            )
        home = candidates[-1]
    binary = home / "bin" / "tritonserver"
    if not binary.is_file():
        raise ToolchainError(f"{binary} does not exist: {INSTALL_HINT} or fix {TRITON_HOME_ENV}.")
    stub = home / "backends" / "python" / "triton_python_backend_stub"
    if not stub.is_file():
        raise ToolchainError(
            f"Triton's Python-backend stub is missing at {stub}: {INSTALL_HINT} "
            "(it copies the stub for the serving venv's Python version in place)."
        )
    return home


def find_serving_venv(root: Path, env: Mapping[str, str] = os.environ) -> Path:
    venv = Path(env[SERVING_VENV_ENV]) if env.get(SERVING_VENV_ENV) else root / ".venv-serving"
    if not (venv / "bin" / "python").exists():
        raise ToolchainError(f"serving venv not found at {venv}: {INSTALL_HINT} or set {SERVING_VENV_ENV}.")
    return venv


def find_redis_server(env: Mapping[str, str] = os.environ) -> Path:
    configured = env.get(REDIS_SERVER_ENV)
    found = configured or shutil.which("redis-server") or shutil.which("valkey-server")
    if not found or not Path(found).is_file():
        raise ToolchainError(
            f"redis-server not found (looked at {configured or 'PATH'}): {INSTALL_HINT} "
            f"(it installs Debian's redis-server) or set {REDIS_SERVER_ENV}."
        )
    return Path(found)


def discover(env: Mapping[str, str] = os.environ) -> Toolchain:
    root = repo_root(env)
    home = find_triton_home(root, env)
    return Toolchain(
        tritonserver=home / "bin" / "tritonserver",
        triton_backends=home / "backends",
        serving_venv=find_serving_venv(root, env),
        redis_server=find_redis_server(env),
    )
