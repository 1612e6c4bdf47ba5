"""A repository version is declared good only after a real Triton loaded it and answered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.models import artifacts
from recsys_workloads.runtime.toolchain import Toolchain
from recsys_workloads.serving.triton.repository import RepositoryError, build_version_repository


def test_a_loadable_version_replaces_the_repository_after_validation(
    serving_version: Path, toolchain: Toolchain, tmp_path: Path
) -> None:
    dest = build_version_repository(
        serving_version, tmp_path / "models", "", ("fused",), ServingGraphConfig(), toolchain
    )
    config = (dest / "fused_retrieve_rank" / "config.pbtxt").read_text()
    assert f'string_value: "{serving_version.resolve()}"' in config and "${" not in config
    assert "version_policy" in config
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".models-candidate")) == []


def test_a_version_that_fails_to_load_leaves_the_serving_repository_alone(
    serving_version: Path, toolchain: Toolchain, tmp_path: Path
) -> None:
    good = build_version_repository(serving_version, tmp_path / "models", "", ("fused",))
    broken = tmp_path / "broken"
    shutil.copytree(serving_version, broken)
    (broken / artifacts.EXPORT_DIR / artifacts.DLRM_ONNX).write_bytes(b"not an onnx graph")
    with pytest.raises(RepositoryError, match="failed validation"):
        build_version_repository(broken, good, "", ("fused",), toolchain=toolchain)
    assert str(serving_version.resolve()) in (good / "fused_retrieve_rank" / "config.pbtxt").read_text()
    assert not (tmp_path / ".models-candidate").exists()


def test_a_version_without_exported_models_is_rejected_before_triton(
    serving_version: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(serving_version, partial, ignore=shutil.ignore_patterns(artifacts.EXPORT_DIR))
    with pytest.raises(RepositoryError, match=r"query_tower\.onnx"):
        build_version_repository(partial, tmp_path / "models", "")
