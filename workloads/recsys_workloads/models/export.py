"""Export the two online models (query tower, DLRM) as ONNX or SavedModel (docs/decisions/0004)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np

from recsys_workloads.features.vocabulary import RESERVED
from recsys_workloads.models import artifacts, blend, dlrm, onnx_simplify, two_tower

Format = Literal["onnx", "saved_model"]


def export_model(model: keras.Model, path: Path, fmt: Format, simplify: bool = True) -> Path:
    """`model` must be functional with named inputs: those names are the serving tensors.

    ONNX graphs get `onnx_simplify`'s exact rewrites (`simplify=False`: Keras' export as is,
    the benchmark's baseline).
    """
    if path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    model(sample_inputs(model), training=False)  # Keras exports only models that have run once
    if fmt == "onnx":
        model.export(str(path), format="onnx", verbose=False)
        if simplify:
            onnx_simplify.simplify(path, [sample_inputs(model, 4), sample_inputs(model, 4, seed=0)])
    else:
        model.export(str(path), format="tf_saved_model", verbose=False)
    return path


def sample_inputs(model: keras.Model, rows: int = 2, seed: int | None = None) -> dict[str, np.ndarray]:
    """Inputs shaped like each named input: zeros, or with a `seed` random values. Ids stay in
    the reserved buckets (0 out of vocabulary, 1 missing) that every table has."""
    rng = np.random.default_rng(seed)
    out = {}
    for x in model.inputs:
        shape = (rows, *x.shape[1:])
        if seed is None:
            out[x.name] = np.zeros(shape, dtype="int64" if "int" in str(x.dtype) else "float32")
        elif "int" in str(x.dtype):
            out[x.name] = rng.integers(0, RESERVED, shape, dtype=np.int64)
        else:
            out[x.name] = rng.standard_normal(shape).astype(np.float32)
    return out


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
