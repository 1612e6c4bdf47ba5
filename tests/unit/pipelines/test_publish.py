"""Publishing on the model volume: all or nothing, under the next version number."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_workloads.pipelines.steps import copy_version, publish_version, serving_version


def test_a_failed_export_publishes_nothing_and_leaves_no_staging_folder(tmp_path: Path) -> None:
    repository = tmp_path / "models"
    (repository / "1").mkdir(parents=True)
    broken = tmp_path / "trained"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}")  # no two_tower/ or dlrm/: the export step fails
    with pytest.raises(FileNotFoundError):
        publish_version(broken, repository, "onnx")
    assert sorted(p.name for p in repository.iterdir()) == ["1"]


def test_the_serving_version_is_the_newest_number_and_staging_folders_are_ignored(tmp_path: Path) -> None:
    repository = tmp_path / "models"
    for name in ("1", "2", "10", ".staging-ab12cd34", ".failed-3-abcdef"):
        (repository / name).mkdir(parents=True)
    assert serving_version(repository) == (10, repository / "10")
    with pytest.raises(FileNotFoundError, match="run the initial pipeline first"):
        serving_version(tmp_path / "empty")


def test_copying_a_version_leaves_scratch_caches_behind(tmp_path: Path) -> None:
    source = tmp_path / "v"
    (source / "cache").mkdir(parents=True)
    (source / "cache" / "text.npy").write_bytes(b"x")
    (source / "manifest.json").write_text("{}")
    copied = copy_version(source, tmp_path / "copy")
    assert sorted(p.name for p in copied.iterdir()) == ["manifest.json"]
