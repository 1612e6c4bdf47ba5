"""Incremental fine-tuning: new days + replay, frozen candidate tower (the gate: models/gate.py)."""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import numpy.typing as npt

from recsys_workloads.contracts.models import ColdStartConfig, FineTuneConfig
from recsys_workloads.features import transform as ft
from recsys_workloads.features.fit import Examples
from recsys_workloads.models import train, two_tower

Arrays = Mapping[str, npt.NDArray[np.generic]]


def replay_sample(new: Examples, history: Examples, ratio: float, rng: np.random.Generator) -> Examples:
    """All new rows plus `ratio` times as many history rows drawn without replacement."""
    n = min(len(history), round(ratio * len(new)))
    picked = np.sort(rng.choice(len(history), n, replace=False)) if n else np.zeros(0, np.int64)
    return Examples(
        query=ft.concat([new.query, ft.take(history.query, picked)]),
        item_row=np.concatenate([new.item_row, history.item_row[picked]]),
        label=np.concatenate([new.label, history.label[picked]]),
        day=np.concatenate([new.day, history.day[picked]]),
    )


def finetune_query_tower(
    model: two_tower.TwoTowerModel,
    clicks: Examples,
    items: Arrays,
    config: FineTuneConfig,
    cold_start: ColdStartConfig | None,
    seed: int,
) -> train.FitResult:
    """Only the query tower learns: item vectors, and so the FAISS index, stay valid."""
    model.candidate_tower.trainable = False
    return train.fit_two_tower(
        model,
        clicks,
        items,
        learning_rate=config.learning_rate,
        epochs=config.epochs,
        batch_size=model.spec.config.batch_size,
        cold_start=cold_start,
        seed=seed,
    )


def finetune_dlrm(
    model: keras.Model,
    ex: Examples,
    rows: train.RankingRows,
    items: Arrays,
    config: FineTuneConfig,
    batch_size: int,
    cold_start: ColdStartConfig | None,
    seed: int,
) -> train.FitResult:
    """Every ranker layer learns: it has no index to keep valid."""
    model.trainable = True
    return train.fit_dlrm(
        model,
        ex,
        rows,
        items,
        learning_rate=config.learning_rate,
        epochs=config.epochs,
        batch_size=batch_size,
        cold_start=cold_start,
        seed=seed,
    )
