"""The model repository builder fills every placeholder and never half-writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_workloads.serving.triton.repository import RepositoryError, build_repository, template_dir


def _template(tmp_path: Path) -> Path:
    model = tmp_path / "template" / "step" / "1"
    model.mkdir(parents=True)
    (model / "model.py").write_text("# step\n")
    (model.parent / "config.pbtxt").write_text(
        'name: "step"\nparameters: { key: "u" value: { string_value: "${REDIS_URL}" } }\n'
    )
    return tmp_path / "template"


def test_placeholders_are_filled_and_model_files_copied(tmp_path: Path) -> None:
    dest = build_repository(
        tmp_path / "repo", ["step"], {"REDIS_URL": "redis://127.0.0.1:1/0"}, _template(tmp_path)
    )
    assert 'string_value: "redis://127.0.0.1:1/0"' in (dest / "step" / "config.pbtxt").read_text()
    assert (dest / "step" / "1" / "model.py").read_text() == "# step\n"


def test_a_missing_placeholder_value_is_named_and_leaves_the_old_repository(tmp_path: Path) -> None:
    template = _template(tmp_path)
    dest = build_repository(tmp_path / "repo", ["step"], {"REDIS_URL": "redis://old"}, template)
    with pytest.raises(RepositoryError, match=r"step/config.pbtxt: placeholder \$\{REDIS_URL\} has no value"):
        build_repository(dest, ["step"], {}, template)
    assert "redis://old" in (dest / "step" / "config.pbtxt").read_text()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["repo", "template"]


def test_an_unknown_model_is_rejected_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match=r"\['nope'\] have no config.pbtxt"):
        build_repository(tmp_path / "repo", ["nope"], {}, _template(tmp_path))
    assert not (tmp_path / "repo").exists()


def test_the_shipped_template_renders_with_a_redis_url(tmp_path: Path) -> None:
    models = ["context_preprocessor", "popular_items", "homepage_popular"]
    dest = build_repository(tmp_path / "repo", models, {"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert sorted(p.name for p in dest.iterdir()) == sorted(models)
    assert (template_dir() / "popular_items" / "config.pbtxt").read_text().count("${REDIS_URL}") == 1
    assert "${" not in (dest / "popular_items" / "config.pbtxt").read_text()
