"""Embeddings keyed by a hash of the content (text or image bytes + model): reruns embed only new items."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt


def content_hash(content: bytes, model: str) -> str:
    return hashlib.sha256(model.encode() + b"\0" + content).hexdigest()


class EmbeddingCache:
    """One NPZ per model: `keys` (hashes) and `vectors`, rewritten when new content was embedded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.vectors: dict[str, npt.NDArray[np.float32]] = {}
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                self.vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def embed(
        self,
        keys: Sequence[str],
        contents: Sequence[object],
        encode: Callable[[list[object]], npt.NDArray[np.float32]],
    ) -> tuple[npt.NDArray[np.float32], int]:
        """Vectors for every key, calling `encode` only on unseen keys; returns (vectors, encoded)."""
        missing = list(dict.fromkeys(k for k in keys if k not in self.vectors))
        if missing:
            first = {k: c for k, c in zip(keys, contents, strict=True) if k in set(missing)}
            encoded = np.asarray(encode([first[k] for k in missing]), dtype=np.float32)
            self.vectors.update(zip(missing, encoded, strict=True))
            self.save()
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32), len(missing)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self.vectors)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, keys=np.array(keys, dtype=str), vectors=np.stack([self.vectors[k] for k in keys]))
        tmp.replace(self.path)
