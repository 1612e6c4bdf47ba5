"""Export the two online models (query tower, DLRM) as ONNX or SavedModel (docs/decisions/0004)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np

from recsys_workloads.models import artifacts, blend, dlrm, two_tower

Format = Literal["onnx", "saved_model"]


def export_model(model: keras.Model, path: Path, fmt: Format) -> Path:
    """`model` must be functional with named inputs: those names are the serving tensors."""
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    model(sample_inputs(model), training=False)  # Keras exports only models that have run once
    if fmt == "onnx":
        model.export(str(path), format="onnx", verbose=False)
    else:
        model.export(str(path), format="tf_saved_model", verbose=False)
    return path


def sample_inputs(model: keras.Model, rows: int = 2) -> dict[str, np.ndarray]:
    """Zeros shaped like each named input (ids 0 = out-of-vocabulary bucket: always valid)."""
    return {
        x.name: np.zeros((rows, *x.shape[1:]), dtype="int64" if "int" in str(x.dtype) else "float32")
        for x in model.inputs
    }


def export_version(version: Path, fmt: Format = "onnx") -> dict[str, Path]:
    """Write `export/` of a trained version; returns the model paths by step name."""
    tower = two_tower.load(version / artifacts.TWO_TOWER_DIR)
    ranker = ranking_model(version / artifacts.DLRM_DIR)
    suffix = ".onnx" if fmt == "onnx" else ""
    out = version / artifacts.EXPORT_DIR
    return {
        "query_tower": export_model(two_tower.query_model(tower), out / f"query_tower{suffix}", fmt),
        "dlrm_ranking": export_model(ranker, out / f"dlrm_ranking{suffix}", fmt),
    }


def ranking_model(directory: Path) -> Any:
    """The ranker with its final score (models.blend) when the version has one: what serving runs."""
    ranker: Any = dlrm.load(directory)
    saved = blend.load(directory)
    return ranker if saved is None else blend.final_model(ranker, *saved)
