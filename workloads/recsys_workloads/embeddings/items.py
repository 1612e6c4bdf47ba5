"""Text and image embeddings of every catalog item, PCA-reduced, cached by content hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from recsys_workloads.contracts.models import EmbeddingConfig
from recsys_workloads.embeddings.cache import EmbeddingCache, content_hash
from recsys_workloads.embeddings.pca import Pca
from recsys_workloads.features import transform as ft

TEXT_PCA: Final = "text_pca.npz"
IMAGE_PCA: Final = "image_pca.npz"


class Encoder(Protocol):
    name: str

    def encode(self, contents: Sequence[object]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class ContentEmbeddings:
    vectors: dict[str, npt.NDArray[np.float32]]  # ft.TEXT_EMBEDDING / ft.IMAGE_EMBEDDING → (items, reduced)
    encoded: dict[str, int]  # how many items each encoder actually ran on (0 on a full cache hit)


def embed_reduced(
    encoder: Encoder,
    contents: Sequence[object],
    raw_bytes: Sequence[bytes],
    cache_dir: Path,
    pca_path: Path,
    dim: int,
) -> tuple[npt.NDArray[np.float32], int]:
    """Raw vectors through the cache, then the saved PCA (fitted here on first use)."""
    cache = EmbeddingCache(cache_dir / f"{content_hash(encoder.name.encode(), 'cache')[:16]}.npz")
    keys = [content_hash(b, encoder.name) for b in raw_bytes]
    raw, encoded = cache.embed(keys, contents, lambda c: encoder.encode(c))
    if pca_path.exists():
        pca = Pca.load(pca_path)
    else:
        pca = Pca.fit(raw, dim)
        pca_path.parent.mkdir(parents=True, exist_ok=True)
        pca.save(pca_path)
    return pca.transform(raw), encoded


def item_content(
    descriptions: Sequence[str],
    image_paths: Sequence[Path],
    config: EmbeddingConfig,
    cache_dir: Path,
    output: Path,
    text_encoder: Encoder | None = None,
    image_encoder: Encoder | None = None,
) -> ContentEmbeddings:
    """Both reduced embeddings, row = catalog row; a disabled encoder (empty name) gives zeros."""
    n, dim = len(descriptions), config.reduced_dim
    vectors = {name: np.zeros((n, dim), np.float32) for name in ft.CONTENT_FEATURES}
    encoded = {name: 0 for name in ft.CONTENT_FEATURES}
    if config.text_model:
        from recsys_workloads.embeddings.encoders import TextEncoder

        text = text_encoder or TextEncoder(config.text_model, config.batch_size)
        vectors[ft.TEXT_EMBEDDING], encoded[ft.TEXT_EMBEDDING] = embed_reduced(
            text, list(descriptions), [d.encode() for d in descriptions], cache_dir, output / TEXT_PCA, dim
        )
    if config.image_model:
        from recsys_workloads.embeddings.encoders import ImageEncoder, read_image

        image = image_encoder or ImageEncoder(config.image_model, config.batch_size)
        blobs = [read_image(p) for p in image_paths]
        present = np.array([len(b) > 0 for b in blobs])
        if present.any():
            rows = np.flatnonzero(present)
            reduced, encoded[ft.IMAGE_EMBEDDING] = embed_reduced(
                image, [blobs[i] for i in rows], [blobs[i] for i in rows], cache_dir, output / IMAGE_PCA, dim
            )
            vectors[ft.IMAGE_EMBEDDING][rows] = reduced
    return ContentEmbeddings(vectors, encoded)
