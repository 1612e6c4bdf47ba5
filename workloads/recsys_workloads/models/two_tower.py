"""Two-tower retrieval on Keras 3 + Keras-RS: in-batch softmax with log-q sampling correction.

The query tower (user + context) runs online per request; the candidate tower (item ids,
attributes and both pretrained content embeddings) runs offline to fill the FAISS index.
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

from recsys_workloads.contracts.models import TwoTowerConfig
from recsys_workloads.features import transform as ft
from recsys_workloads.models.layers import MaskedMeanPooling, column, l2_normalize, mlp
from recsys_workloads.models.shape import ModelShape

SPEC_FILE: Final = "two_tower.json"
WEIGHTS_FILE: Final = "two_tower.weights.h5"
CANDIDATE_KEY: Final = "candidate_key"
CANDIDATE_PROBABILITY: Final = "candidate_probability"
QUERY_CATEGORICAL: Final = (ft.USER_ID, ft.GENDER, ft.AGE_BUCKET, ft.TOP_CATEGORY, ft.DEVICE)
QUERY_DENSE: Final = (ft.AGE, ft.HOUR_SIN, ft.HOUR_COS, ft.WEEKDAY_SIN, ft.WEEKDAY_COS)
CANDIDATE_CATEGORICAL: Final = (ft.ITEM_ID, ft.CATEGORY_L1, ft.CATEGORY_L2, ft.ITEM_GENDER)


class TowerSpec(ModelShape[TwoTowerConfig]):
    """Everything needed to rebuild the model before loading weights."""

    @classmethod
    def of(
        cls, transforms: ft.FittedTransforms, config: TwoTowerConfig, content_dims: Mapping[str, int]
    ) -> TowerSpec:
        return cls.fitted(transforms, config, content_dims, (*QUERY_CATEGORICAL, *CANDIDATE_CATEGORICAL))


class QueryTower(keras.layers.Layer):  # type: ignore[misc]
    """User ids, demographics, history and context → unit vector."""

    def __init__(self, spec: TowerSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dim = spec.config.id_embedding_dim
        self.embeddings = {
            n: keras.layers.Embedding(spec.cardinalities[n], dim, name=f"q_{n}") for n in QUERY_CATEGORICAL
        }
        self.recent = MaskedMeanPooling(spec.cardinalities[ft.RECENT_ITEMS], dim, name="q_recent_items")
        self.hidden = mlp(spec.config.query_layers, "q_hidden")
        self.output_layer = keras.layers.Dense(spec.config.embedding_dim, name="q_output")

    def call(self, inputs: Mapping[str, Any]) -> Any:
        parts = [self.embeddings[n](inputs[n]) for n in QUERY_CATEGORICAL]
        parts.append(self.recent(inputs[ft.RECENT_ITEMS]))
        parts.extend(column(inputs[n]) for n in QUERY_DENSE)
        x = ops.concatenate(parts, axis=-1)
        for layer in self.hidden:
            x = layer(x)
        return l2_normalize(self.output_layer(x))


class CandidateTower(keras.layers.Layer):  # type: ignore[misc]
    """Item id (OOV for new items), attributes and content embeddings → unit vector."""

    def __init__(self, spec: TowerSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dim = spec.config.id_embedding_dim
        self.embeddings = {
            n: keras.layers.Embedding(spec.cardinalities[n], dim, name=f"c_{n}")
            for n in CANDIDATE_CATEGORICAL
        }
        self.hidden = mlp(spec.config.candidate_layers, "c_hidden")
        self.output_layer = keras.layers.Dense(spec.config.embedding_dim, name="c_output")

    def call(self, inputs: Mapping[str, Any]) -> Any:
        parts = [self.embeddings[n](inputs[n]) for n in CANDIDATE_CATEGORICAL]
        parts.append(column(inputs[ft.PRICE]))
        parts.extend(ops.cast(inputs[n], "float32") for n in ft.CONTENT_FEATURES)
        x = ops.concatenate(parts, axis=-1)
        for layer in self.hidden:
            x = layer(x)
        return l2_normalize(self.output_layer(x))


class TwoTowerModel(keras.Model):  # type: ignore[misc]
    """Scores every query of a batch against every candidate of the batch (in-batch negatives)."""

    def __init__(self, spec: TowerSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.query_tower = QueryTower(spec, name="query_tower")
        self.candidate_tower = CandidateTower(spec, name="candidate_tower")
        self.correction = keras_rs.layers.SamplingProbabilityCorrection()
        self.remove_accidental_hits = keras_rs.layers.RemoveAccidentalHits()
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def build(self, input_shape: Any = None) -> None:
        """Towers build on their first call (`build()` below runs one on dummy inputs)."""
        self.built = True

    def call(self, inputs: Mapping[str, Any]) -> tuple[Any, Any]:
        return self.query_tower(inputs), self.candidate_tower(inputs)

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        queries, candidates = y_pred
        logits = ops.matmul(queries, ops.transpose(candidates)) / self.spec.config.temperature
        labels = ops.eye(ops.shape(logits)[0], dtype="float32")
        if self.spec.config.sampling_correction:
            logits = self.correction(logits, x[CANDIDATE_PROBABILITY])
        logits = self.remove_accidental_hits(logits, labels, x[CANDIDATE_KEY])
        loss = ops.mean(keras.losses.categorical_crossentropy(labels, logits, from_logits=True))
        self.loss_tracker.update_state(loss)
        return loss

    @property
    def metrics(self) -> list[Any]:
        return [self.loss_tracker]


def build(spec: TowerSpec) -> TwoTowerModel:
    model = TwoTowerModel(spec)
    model(dummy_inputs(spec, 2))  # create weights so they can be loaded, frozen and compared
    return model


def dummy_inputs(spec: TowerSpec, n: int) -> dict[str, npt.NDArray[np.generic]]:
    ints = (*QUERY_CATEGORICAL, *CANDIDATE_CATEGORICAL)
    out: dict[str, npt.NDArray[np.generic]] = {n_: np.zeros(n, np.int64) for n_ in ints}
    out.update({n_: np.zeros(n, np.float32) for n_ in (*QUERY_DENSE, ft.PRICE)})
    out[ft.RECENT_ITEMS] = np.ones((n, spec.recent_items), np.int64)
    out.update({n_: np.zeros((n, spec.content_dims[n_]), np.float32) for n_ in ft.CONTENT_FEATURES})
    return out


def query_input_signature(spec: TowerSpec) -> dict[str, keras.KerasTensor]:
    """Named inputs of the exported query tower: the tensors of the serving transform steps."""
    inputs = {n: keras.Input(shape=(), dtype="int64", name=n) for n in QUERY_CATEGORICAL}
    inputs.update({n: keras.Input(shape=(), dtype="float32", name=n) for n in QUERY_DENSE})
    inputs[ft.RECENT_ITEMS] = keras.Input(shape=(spec.recent_items,), dtype="int64", name=ft.RECENT_ITEMS)
    return inputs


def query_model(model: TwoTowerModel) -> keras.Model:
    """The query tower alone as a functional model: what is exported for serving."""
    inputs = query_input_signature(model.spec)
    return keras.Model(inputs=inputs, outputs=model.query_tower(inputs), name="query_tower_model")


def _batched(
    layer: keras.layers.Layer, features: Mapping[str, npt.NDArray[np.generic]], batch: int
) -> npt.NDArray[np.float32]:
    n = len(next(iter(features.values())))
    chunks = [
        np.asarray(layer({k: v[i : i + batch] for k, v in features.items()}), dtype=np.float32)
        for i in range(0, n, batch)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)


def item_embeddings(
    model: TwoTowerModel, items: Mapping[str, npt.NDArray[np.generic]], batch: int = 4096
) -> npt.NDArray[np.float32]:
    """Candidate-tower vectors of every catalog row (the FAISS index content)."""
    return _batched(model.candidate_tower, {k: items[k] for k in ft.CANDIDATE_FEATURES}, batch)


def query_embeddings(
    model: TwoTowerModel, queries: Mapping[str, npt.NDArray[np.generic]], batch: int = 4096
) -> npt.NDArray[np.float32]:
    return _batched(model.query_tower, {k: queries[k] for k in ft.QUERY_FEATURES}, batch)


def save(model: TwoTowerModel, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SPEC_FILE).write_text(model.spec.to_json() + "\n")
    model.save_weights(directory / WEIGHTS_FILE)
    return directory


def load(directory: Path) -> TwoTowerModel:
    model = build(TowerSpec.from_json((directory / SPEC_FILE).read_text()))
    model.load_weights(directory / WEIGHTS_FILE)
    return model
