"""Roll a model version into a running Triton without dropping requests.

New versions are written under a non-numeric name (Triton ignores those), renamed to the
next version number (atomic on one filesystem, also on the shared model volume), loaded
through the repository API (explicit model control), and checked with a canary request.
A version that fails to load or answer is moved aside: Triton keeps serving the previous
version and the caller records `BlockedByFailedLoad`. Rollback pins an earlier version.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

Transition = Literal["UpToDate", "InProgress", "BlockedByFailedLoad"]
STAGING_PREFIX = ".staging-"
FAILED_PREFIX = ".failed-"


class RolloutError(RuntimeError):
    """A version did not load or failed its canary; the previous version still serves."""


class TritonRepository(Protocol):
    """What rollout needs of Triton's model repository API (tritonclient's http client has it)."""

    def load_model(self, model_name: str, config: str | None = None) -> None: ...

    def get_model_config(self, model_name: str) -> dict[str, object]: ...

    def is_model_ready(self, model_name: str, model_version: str = "") -> bool: ...


class RolloutResult(BaseModel):
    model: str
    current_version: int | None
    previous_version: int | None
    transition: Transition
    message: str = ""


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
