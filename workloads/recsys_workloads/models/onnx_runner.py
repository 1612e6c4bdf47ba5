"""Run an exported model with onnxruntime inside a serving step (no TensorFlow; numpy<2 safe)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

_DTYPES = {"tensor(int64)": np.int64, "tensor(float)": np.float32, "tensor(int32)": np.int32}


class OnnxModel:
    """Feeds features by input name with the dtype the graph declares; returns the first output."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = path
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=_providers())
        self.inputs: dict[str, Any] = {
            i.name: _DTYPES.get(i.type, np.float32) for i in self.session.get_inputs()
        }

    @property
    def input_names(self) -> list[str]:
        return list(self.inputs)

    def __call__(self, features: Mapping[str, npt.ArrayLike]) -> npt.NDArray[np.float32]:
        feed = {
            name: np.ascontiguousarray(features[name], dtype=dtype) for name, dtype in self.inputs.items()
        }
        return np.asarray(self.session.run(None, feed)[0], dtype=np.float32)


def _providers() -> list[str]:
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
