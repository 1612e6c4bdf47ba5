"""Keras `PyDataset`s over NumPy features: per-epoch shuffling and fresh cold-start masks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from recsys_workloads.contracts.models import ColdStartConfig
from recsys_workloads.features import transform as ft
from recsys_workloads.features.masking import mask_features

Arrays = Mapping[str, npt.NDArray[np.generic]]


class _Shuffled(keras.utils.PyDataset):  # type: ignore[misc]
    def __init__(self, n: int, batch_size: int, seed: int, cold_start: ColdStartConfig | None) -> None:
        super().__init__()
        self.n, self.batch_size, self.cold_start = n, batch_size, cold_start
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(n)

    def __len__(self) -> int:
        return max(1, self.n // self.batch_size)  # full batches: in-batch negatives need them

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(self.n)

    def rows(self, index: int) -> npt.NDArray[np.int64]:
        return self.order[index * self.batch_size : (index + 1) * self.batch_size]

    def mask(self, features: ft.Features) -> ft.Features:
        c = self.cold_start
        if c is None:
            return features
        return mask_features(
            features,
            self.rng,
            anonymous_rate=c.anonymous_mask_rate,
            new_user_rate=c.new_user_mask_rate,
            device_rate=c.device_mask_rate,
            new_item_rate=c.new_item_mask_rate,
        )


class RetrievalBatches(_Shuffled):
    """(query features, positive item features, candidate key and sampling probability) per click."""

    def __init__(
        self,
        queries: Arrays,
        item_rows: npt.NDArray[np.int64],
        items: Arrays,
        item_probability: npt.NDArray[np.float64],
        batch_size: int,
        seed: int,
        cold_start: ColdStartConfig | None,
    ) -> None:
        super().__init__(len(item_rows), min(batch_size, len(item_rows)), seed, cold_start)
        self.queries, self.item_rows, self.items = queries, item_rows, items
        self.item_probability = item_probability.astype(np.float32)

    def __getitem__(self, index: int) -> Any:
        rows = self.rows(index)
        item_rows = self.item_rows[rows]
        x = self.mask({**ft.take(self.queries, rows), **ft.take(self.items, item_rows)})
        x["candidate_key"] = item_rows
        x["candidate_probability"] = self.item_probability[item_rows]
        return (x,)


class RankingBatches(_Shuffled):
    """(query + item features, click label) rows: clicks, impressions and sampled negatives."""

    def __init__(
        self,
        queries: Arrays,
        query_rows: npt.NDArray[np.int64],
        item_rows: npt.NDArray[np.int64],
        labels: npt.NDArray[np.float32],
        items: Arrays,
        batch_size: int,
        seed: int,
        cold_start: ColdStartConfig | None,
    ) -> None:
        super().__init__(len(labels), min(batch_size, len(labels)), seed, cold_start)
        self.queries, self.query_rows, self.item_rows, self.labels, self.items = (
            queries,
            query_rows,
            item_rows,
            labels,
            items,
        )

    def __getitem__(self, index: int) -> Any:
        rows = self.rows(index)
        x = self.mask(
            {**ft.take(self.queries, self.query_rows[rows]), **ft.take(self.items, self.item_rows[rows])}
        )
        return x, self.labels[rows]
