"""PCA by NumPy SVD, fitted once and saved, so reruns and new items use the same projection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Pca:
    mean: npt.NDArray[np.float32]
    components: npt.NDArray[np.float32]  # (reduced, original)

    @classmethod
    def fit(cls, vectors: npt.ArrayLike, dim: int) -> Pca:
        """Keeps min(dim, rows, columns) components; missing ones are zero so shapes stay fixed."""
        x = np.asarray(vectors, dtype=np.float64)
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        # Fix the sign of each component (largest coordinate positive): refits are repeatable.
        signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
        vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
        components = np.zeros((dim, x.shape[1]))
        kept = min(dim, len(vt))
        components[:kept] = vt[:kept]
        return cls(mean.astype(np.float32), components.astype(np.float32))

    def transform(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
        x = np.asarray(vectors, dtype=np.float32)
        return np.asarray((x - self.mean) @ self.components.T, dtype=np.float32)

    def save(self, path: Path) -> Path:
        np.savez(path, mean=self.mean, components=self.components)
        return path

    @classmethod
    def load(cls, path: Path) -> Pca:
        with np.load(path) as data:
            return cls(data["mean"], data["components"])
