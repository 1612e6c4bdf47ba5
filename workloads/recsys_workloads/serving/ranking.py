"""Steps 11 and 12: unroll the visitor's features to every candidate, score with the DLRM."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from recsys_workloads.features import transform as ft
from recsys_workloads.models.onnx_runner import OnnxModel

UNROLLED_SUFFIX = "_unrolled"


def unroll(features: Mapping[str, npt.NDArray[np.generic]], n: int) -> ft.Features:
    """Repeat one visitor's (row 0) features `n` times, one row per candidate."""
    return {name: np.repeat(np.asarray(v)[:1], n, axis=0) for name, v in features.items()}


def rank(model: OnnxModel, features: Mapping[str, npt.ArrayLike]) -> npt.NDArray[np.float32]:
    """Click probability per candidate (empty in, empty out)."""
    first = next(iter(features.values()))
    if len(np.asarray(first)) == 0:
        return np.empty(0, dtype=np.float32)
    return model(features).reshape(-1).astype(np.float32)
