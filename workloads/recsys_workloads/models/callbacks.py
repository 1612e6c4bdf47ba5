"""Keras callbacks: retrieval metrics over the full catalog after each epoch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from recsys_workloads.evaluation.metrics import ndcg_at_k, recall_at_k
from recsys_workloads.evaluation.retrieval import rank_by_scores
from recsys_workloads.models import two_tower


class RetrievalMetrics(keras.callbacks.Callback):  # type: ignore[misc]
    """Adds val_recall@k and val_ndcg@k to the epoch logs (exact search over every item)."""

    def __init__(
        self,
        queries: Mapping[str, npt.NDArray[np.generic]],
        relevant: list[npt.NDArray[np.int64]],
        items: Mapping[str, npt.NDArray[np.generic]],
        k: int,
    ) -> None:
        super().__init__()
        self.queries, self.relevant, self.items, self.k = queries, relevant, items, k

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        model = self.model
        assert isinstance(model, two_tower.TwoTowerModel)
        scores = (
            two_tower.query_embeddings(model, self.queries) @ two_tower.item_embeddings(model, self.items).T
        )
        ranked = rank_by_scores(scores.astype(np.float64), self.k)
        if logs is not None:
            logs[f"val_recall@{self.k}"] = recall_at_k(ranked, self.relevant, self.k)
            logs[f"val_ndcg@{self.k}"] = ndcg_at_k(ranked, self.relevant, self.k)
