"""DLRM ranker (Keras-RS `DotInteraction`): click probability of (user, context, item).

Dense features go through the bottom MLP; every categorical feature, the pooled recent
items and the projected image and text embeddings join the pairwise dot interaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import keras
import keras_rs
import numpy as np
import numpy.typing as npt
from keras import ops

from recsys_workloads.contracts.models import DlrmConfig
from recsys_workloads.features import transform as ft
from recsys_workloads.models.layers import MaskedMeanPooling, column, mlp
from recsys_workloads.models.shape import ModelShape

SPEC_FILE: Final = "dlrm.json"
WEIGHTS_FILE: Final = "dlrm.weights.h5"
DENSE: Final = (ft.AGE, ft.HOUR_SIN, ft.HOUR_COS, ft.WEEKDAY_SIN, ft.WEEKDAY_COS, ft.PRICE)
CATEGORICAL: Final = (
    ft.USER_ID,
    ft.GENDER,
    ft.AGE_BUCKET,
    ft.TOP_CATEGORY,
    ft.DEVICE,
    ft.ITEM_ID,
    ft.CATEGORY_L1,
    ft.CATEGORY_L2,
    ft.ITEM_GENDER,
)
INPUTS: Final = (*DENSE, *CATEGORICAL, ft.RECENT_ITEMS, *ft.CONTENT_FEATURES)


class RankerSpec(ModelShape[DlrmConfig]):
    """Everything needed to rebuild the model before loading weights."""

    @classmethod
    def of(
        cls, transforms: ft.FittedTransforms, config: DlrmConfig, content_dims: Mapping[str, int]
    ) -> RankerSpec:
        return cls.fitted(transforms, config, content_dims, CATEGORICAL)


class DlrmRanker(keras.layers.Layer):  # type: ignore[misc]
    def __init__(self, spec: RankerSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        c = spec.config
        dim = c.embedding_dim
        bottom = list(c.bottom_layers) or [dim]  # DlrmConfig holds the last size to embedding_dim
        self.bottom = mlp(bottom, "bottom")
        self.embeddings = {
            n: keras.layers.Embedding(spec.cardinalities[n], dim, name=f"emb_{n}") for n in CATEGORICAL
        }
        self.recent = MaskedMeanPooling(spec.cardinalities[ft.RECENT_ITEMS], dim, name="emb_recent_items")
        self.content = {n: keras.layers.Dense(dim, name=f"proj_{n}") for n in ft.CONTENT_FEATURES}
        self.interaction = keras_rs.layers.DotInteraction()
        self.top = mlp(c.top_layers, "top")
        self.output_layer = keras.layers.Dense(1, activation="sigmoid", name="click_probability")

    def call(self, inputs: Mapping[str, Any]) -> Any:
        x = ops.concatenate([column(inputs[n]) for n in DENSE], axis=-1)
        for layer in self.bottom:
            x = layer(x)
        sparse = [self.embeddings[n](inputs[n]) for n in CATEGORICAL]
        sparse.append(self.recent(inputs[ft.RECENT_ITEMS]))
        sparse.extend(self.content[n](ops.cast(inputs[n], "float32")) for n in ft.CONTENT_FEATURES)
        y = ops.concatenate([x, self.interaction([x, *sparse])], axis=-1)
        for layer in self.top:
            y = layer(y)
        return ops.reshape(self.output_layer(y), (-1,))


def input_signature(spec: RankerSpec) -> dict[str, keras.KerasTensor]:
    inputs = {n: keras.Input(shape=(), dtype="float32", name=n) for n in DENSE}
    inputs.update({n: keras.Input(shape=(), dtype="int64", name=n) for n in CATEGORICAL})
    inputs[ft.RECENT_ITEMS] = keras.Input(shape=(spec.recent_items,), dtype="int64", name=ft.RECENT_ITEMS)
    inputs.update(
        {n: keras.Input(shape=(spec.content_dims[n],), dtype="float32", name=n) for n in ft.CONTENT_FEATURES}
    )
    return inputs


def build(spec: RankerSpec) -> keras.Model:
    """A functional model: trained with `fit` and exported as is."""
    inputs = input_signature(spec)
    model = keras.Model(inputs=inputs, outputs=DlrmRanker(spec, name="dlrm")(inputs), name="dlrm_ranking")
    model.spec = spec
    return model


def compile_for_training(model: keras.Model, learning_rate: float) -> None:
    """Lazy Adam (XLA for large tables): only the embedding rows a batch touched are updated."""
    from recsys_workloads.models.optimizers import LazyAdam, use_xla

    model.compile(
        optimizer=LazyAdam(learning_rate),
        jit_compile=use_xla(model.spec.config.xla, model),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="auc")],
    )


def predict(
    model: keras.Model, features: Mapping[str, npt.NDArray[np.generic]], batch: int = 8192
) -> npt.NDArray[np.float32]:
    n = len(features[ft.ITEM_ID])
    chunks = [
        np.asarray(model({k: features[k][i : i + batch] for k in INPUTS}, training=False), dtype=np.float32)
        for i in range(0, n, batch)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def save(model: keras.Model, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SPEC_FILE).write_text(model.spec.to_json() + "\n")
    model.save_weights(directory / WEIGHTS_FILE)
    return directory


def load(directory: Path) -> keras.Model:
    model = build(RankerSpec.from_json((directory / SPEC_FILE).read_text()))
    model.load_weights(directory / WEIGHTS_FILE)
    return model
