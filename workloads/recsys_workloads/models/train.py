"""Training entry points: Keras `fit` over NumPy features, examples/s measured on the way."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from recsys_workloads.contracts.models import ColdStartConfig, DlrmConfig, TwoTowerConfig
from recsys_workloads.features import transform as ft
from recsys_workloads.features.fit import Examples
from recsys_workloads.models import dlrm, two_tower
from recsys_workloads.models.batches import RankingBatches, RetrievalBatches
from recsys_workloads.models.optimizers import LazyAdam, use_xla
from recsys_workloads.models.runtime import configure

Arrays = Mapping[str, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class FitResult:
    model: Any
    history: dict[str, list[float]]
    examples: int
    seconds: float

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else float("nan")


def content_dims(items: Arrays) -> dict[str, int]:
    return {n: int(items[n].shape[1]) for n in ft.CONTENT_FEATURES}


def item_probability(item_rows: npt.NDArray[np.int64], n_items: int) -> npt.NDArray[np.float64]:
    """Share of training clicks per item (add-one smoothed): the log-q of the sampling correction."""
    counts = np.bincount(item_rows, minlength=n_items).astype(np.float64) + 1.0
    return np.asarray(counts / counts.sum(), dtype=np.float64)


def _fit(
    model: keras.Model,
    data: keras.utils.PyDataset,
    epochs: int,
    callbacks: Sequence[keras.callbacks.Callback],
) -> tuple[dict[str, list[float]], float]:
    start = time.perf_counter()
    history = model.fit(data, epochs=epochs, callbacks=list(callbacks), verbose=0)
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}, time.perf_counter() - start


def fit_two_tower(
    model: two_tower.TwoTowerModel,
    clicks: Examples,
    items: Arrays,
    *,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    cold_start: ColdStartConfig | None,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Fits whatever is trainable (fine-tuning freezes the candidate tower before calling)."""
    configure(seed)
    data = RetrievalBatches(
        clicks.query,
        clicks.item_row,
        items,
        item_probability(clicks.item_row, len(items[ft.ITEM_ID])),
        batch_size,
        seed,
        cold_start,
    )
    model.compile(optimizer=LazyAdam(learning_rate), jit_compile=use_xla(model.spec.config.xla, model))
    history, seconds = _fit(model, data, epochs, callbacks)
    return FitResult(model, history, len(data) * data.batch_size * epochs, seconds)


def train_two_tower(
    transforms: ft.FittedTransforms,
    clicks: Examples,
    items: Arrays,
    config: TwoTowerConfig,
    cold_start: ColdStartConfig | None,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    configure(seed)
    model = two_tower.build(two_tower.TowerSpec.of(transforms, config, content_dims(items)))
    return fit_two_tower(
        model,
        clicks,
        items,
        learning_rate=config.learning_rate,
        epochs=config.epochs,
        batch_size=config.batch_size,
        cold_start=cold_start,
        seed=seed,
        callbacks=callbacks,
    )


@dataclass(frozen=True)
class RankingRows:
    """Rows of the ranker's training set: (query row, catalog row, label)."""

    query_row: npt.NDArray[np.int64]
    item_row: npt.NDArray[np.int64]
    label: npt.NDArray[np.float32]


def ranking_rows(
    examples: Examples,
    n_items: int,
    negatives_per_positive: int,
    rng: np.random.Generator,
    popularity: npt.NDArray[np.float64] | None = None,
) -> RankingRows:
    """Clicks (1), real impressions not clicked (0) and sampled negatives (0).

    Sampled negatives follow popularity^0.75, so the ranker also learns to demote popular
    items a user does not want, not only obscure ones.
    """
    rows = np.arange(len(examples))
    positives = rows[examples.label > 0]
    weights = (popularity if popularity is not None else np.ones(n_items)) ** 0.75
    sampled_query = np.repeat(positives, negatives_per_positive)
    sampled_item = rng.choice(n_items, size=len(sampled_query), p=weights / weights.sum())
    return RankingRows(
        query_row=np.concatenate([rows, sampled_query]),
        item_row=np.concatenate([examples.item_row, sampled_item]).astype(np.int64),
        label=np.concatenate([examples.label, np.zeros(len(sampled_query), np.float32)]),
    )


def ranking_features(examples: Examples, rows: RankingRows, items: Arrays) -> ft.Features:
    return {**ft.take(examples.query, rows.query_row), **ft.take(items, rows.item_row)}


def fit_dlrm(
    model: keras.Model,
    examples: Examples,
    rows: RankingRows,
    items: Arrays,
    *,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    cold_start: ColdStartConfig | None,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    configure(seed)
    data = RankingBatches(
        examples.query, rows.query_row, rows.item_row, rows.label, items, batch_size, seed, cold_start
    )
    dlrm.compile_for_training(model, learning_rate)
    history, seconds = _fit(model, data, epochs, callbacks)
    return FitResult(model, history, len(data) * data.batch_size * epochs, seconds)


def train_dlrm(
    transforms: ft.FittedTransforms,
    examples: Examples,
    rows: RankingRows,
    items: Arrays,
    config: DlrmConfig,
    cold_start: ColdStartConfig | None,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    configure(seed)
    model = dlrm.build(dlrm.RankerSpec.of(transforms, config, content_dims(items)))
    return fit_dlrm(
        model,
        examples,
        rows,
        items,
        learning_rate=config.learning_rate,
        epochs=config.epochs,
        batch_size=config.batch_size,
        cold_start=cold_start,
        seed=seed,
        callbacks=callbacks,
    )
