"""Steps 8, 10 and 14: the in-memory item cache (features, content embeddings, id decoding).

Loaded from a version's `items.npz` once per model instance (Triton's `initialize`), so a
new version (new repository version, re-initialised steps) reloads it. Indexing 300 rows
costs microseconds; the same features from the online store cost milliseconds per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from recsys_workloads.features import transform as ft
from recsys_workloads.models import artifacts
from recsys_workloads.online import bloom

Rows = npt.NDArray[np.int64]


class ItemCache:
    """Rows are catalog rows: the FAISS index, the cache and the embeddings share them."""

    def __init__(self, item_ids: npt.NDArray[np.str_], features: ft.Features) -> None:
        self.item_ids = np.asarray(item_ids)
        self.features = features
        self.row_of = {str(item): row for row, item in enumerate(self.item_ids.tolist())}
        self.encoded_ids = np.array([str(i).encode() for i in self.item_ids.tolist()], dtype=np.object_)
        self._positions: dict[tuple[int, int], npt.NDArray[np.uint32]] = {}

    @classmethod
    def load(cls, version_dir: Path) -> ItemCache:
        item_ids, features = artifacts.load_items(version_dir / artifacts.ITEMS_FILE)
        return cls(item_ids, features)

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def categories(self) -> npt.NDArray[np.int64]:
        """Top-level category index per row (the reranker's diversity key)."""
        return np.asarray(self.features[ft.CATEGORY_L1], dtype=np.int64)

    def item_features(self, rows: Rows) -> ft.Features:
        """Step 8: the cached, transformed item features of `rows`."""
        return {name: self.features[name][rows] for name in ft.ITEM_FEATURES}

    def content(self, rows: Rows) -> ft.Features:
        """Step 10: CLIP image and Sentence-BERT text embeddings (PCA'd) of `rows`."""
        return {name: np.asarray(self.features[name][rows], dtype=np.float32) for name in ft.CONTENT_FEATURES}

    def rows(self, item_ids: Sequence[str]) -> Rows:
        """Catalog rows of known ids (unknown ids are dropped)."""
        get = self.row_of.get
        return np.array([r for r in (get(i) for i in item_ids) if r is not None], dtype=np.int64)

    def seen_positions(self, bits: int, hashes: int) -> npt.NDArray[np.uint32]:
        """Every row's bit positions (rows, hashes) in an m = `bits` seen filter, hashed once.

        Equal to `bloom.bit_positions` of the (string) item ids, so the step tests the
        filters the event service writes without hashing 300 ids per request. uint32:
        a Redis bitmap has at most 2^32 bits.
        """
        key = (bits, hashes)
        if key not in self._positions:
            ids = [str(i) for i in self.item_ids.tolist()]
            self._positions[key] = bloom.bit_positions(ids, bits, hashes).astype(np.uint32)
        return self._positions[key]

    def decode(self, rows: Rows) -> npt.NDArray[np.object_]:
        """Step 14: catalog rows → item ids (UTF-8 bytes, Triton's string tensor)."""
        return self.encoded_ids[rows]


def transform_cached_items(t: ft.FittedTransforms, cached: ft.Features) -> ft.Features:
    """Step 9: the ranker's item inputs from the cache, in model dtypes.

    The cache already holds `transform_items` output (fitted once per version); an index
    beyond this transforms' vocabulary (a cache from another fit) becomes the OOV bucket
    instead of reading past an embedding table.
    """
    out: ft.Features = {}
    for name in ft.ITEM_FEATURES:
        values = np.asarray(cached[name])
        if name == ft.PRICE:
            out[name] = values.astype(np.float32)
        else:
            ids = values.astype(np.int64)
            out[name] = np.where(ids < t.cardinality(name), ids, 0)
    return out
