"""The step graph is wired consistently and `triton_models/` matches it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from recsys_workloads.runtime.toolchain import repo_root
from recsys_workloads.serving.graph import (
    REQUEST_INPUTS,
    RESPONSE_OUTPUTS,
    STEP_BY_NAME,
    STEPS,
    TENSORS,
    ensemble_models,
)
from recsys_workloads.serving.triton.templates import rendered_templates


def test_there_are_fourteen_steps_each_reading_only_earlier_tensors() -> None:
    assert len(STEPS) == 14
    available = set(REQUEST_INPUTS)
    for step in STEPS:
        assert set(step.inputs) <= available, step.name
        available |= set(step.outputs)
    assert set(RESPONSE_OUTPUTS) <= available
    assert all(name in TENSORS for s in STEPS for name in (*s.inputs, *s.outputs))


@pytest.mark.parametrize("graph", ["ensemble", "fused"])
def test_both_graphs_run_every_step_once_in_order(graph: str) -> None:
    models = ensemble_models(graph)
    assert [s for m in models for s in m.steps] == [s.name for s in STEPS]
    assert len(models) == (14 if graph == "ensemble" else 3)
    produced = set(REQUEST_INPUTS)
    for model in models:
        assert set(model.inputs) <= produced, model.name
        produced |= set(model.outputs)
    assert set(RESPONSE_OUTPUTS) <= produced


def test_checked_in_triton_models_match_the_step_specs() -> None:
    root = repo_root() / "triton_models"
    stale = [rel for rel, text in rendered_templates().items() if (root / rel).read_text() != text]
    assert not stale, f"regenerate with `python -m recsys_workloads.serving.triton.templates`: {stale}"


def test_every_model_config_has_an_explicit_version_policy() -> None:
    for path in (repo_root() / "triton_models").glob("*/config.pbtxt"):
        assert "version_policy" in path.read_text(), path


def test_step_names_are_unique() -> None:
    assert len(STEP_BY_NAME) == len(STEPS)


def test_serving_modules_import_in_the_numpy_1_serving_venv() -> None:
    python = repo_root() / ".venv-serving" / "bin" / "python"
    code = (
        "import sys, numpy\n"
        "import recsys_workloads.serving.graph, recsys_workloads.serving.recommender\n"
        "import recsys_workloads.serving.triton.step\n"
        "assert numpy.__version__.startswith('1.'), numpy.__version__\n"
        "bad = [m for m in ('tensorflow', 'feast', 'pyarrow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=Path("/"))
    assert result.returncode == 0, result.stderr
