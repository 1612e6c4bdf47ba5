"""What Triton's steps import must load in the serving venv (numpy<2, no TensorFlow or pyarrow)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SERVING_PYTHON = REPO / ".venv-serving" / "bin" / "python"
SERVING_MODULES = (
    "recsys_workloads.features.transform",
    "recsys_workloads.features.vocabulary",
    "recsys_workloads.features.history",
    "recsys_workloads.features.masking",
    "recsys_workloads.contracts.index",
    "recsys_workloads.index.item_index",
    "recsys_workloads.contracts.models",
    "recsys_workloads.models.artifacts",
    "recsys_workloads.models.onnx_runner",
    "recsys_workloads.embeddings.pca",
    "recsys_workloads.embeddings.cache",
    "recsys_workloads.evaluation.metrics",
)
CHECK = f"""
import importlib, sys
for name in {SERVING_MODULES!r}:
    importlib.import_module(name)
heavy = sorted(m for m in ("tensorflow", "keras", "pyarrow", "torch") if m in sys.modules)
assert not heavy, heavy
import numpy
print(numpy.__version__)
"""


def test_serving_side_modules_import_in_the_serving_venv_without_heavy_frameworks() -> None:
    assert SERVING_PYTHON.exists(), f"{SERVING_PYTHON} is missing (make venv-serving)"
    result = subprocess.run(
        [str(SERVING_PYTHON), "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("1."), "the serving venv is meant to run numpy<2"
