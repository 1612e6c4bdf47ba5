"""Render the `triton_models/` template into a Triton model repository, atomically.

Configs carry `${NAME}` placeholders (e.g. the Valkey address); every placeholder must be
given, so a repository never reaches Triton with a literal `${REDIS_URL}` in it. The
result is written beside `dest` and renamed into place: Triton (or a reader polling the
shared model volume) never sees a half-written repository.
"""

from __future__ import annotations

import shutil
import string
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from recsys_workloads.runtime.toolchain import repo_root

CONFIG = "config.pbtxt"


class RepositoryError(ValueError):
    """The template is incomplete or a placeholder has no value."""


def template_dir() -> Path:
    return repo_root() / "triton_models"


def render_config(text: str, parameters: Mapping[str, str], where: str) -> str:
    try:
        return string.Template(text).substitute(parameters)
    except KeyError as exc:
        raise RepositoryError(f"{where}: placeholder ${{{exc.args[0]}}} has no value") from exc
    except ValueError as exc:
        raise RepositoryError(f"{where}: malformed placeholder: {exc}") from exc


def build_repository(
    dest: Path,
    models: Sequence[str],
    parameters: Mapping[str, str],
    template: Path | None = None,
) -> Path:
    """Copy `models` from the template into `dest` with placeholders filled; returns `dest`."""
    template = template or template_dir()
    missing = [m for m in models if not (template / m / CONFIG).is_file()]
    if missing:
        raise RepositoryError(f"models {missing} have no {CONFIG} under {template}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        for model in models:
            shutil.copytree(
                template / model, staging / model, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
            config = staging / model / CONFIG
            config.write_text(render_config(config.read_text(), parameters, f"{model}/{CONFIG}"))
        if dest.exists():
            retired = dest.with_name(f".{dest.name}-retired")
            shutil.rmtree(retired, ignore_errors=True)
            dest.replace(retired)
            staging.replace(dest)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.replace(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest
