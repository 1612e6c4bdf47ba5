"""Small Keras layers shared by the towers and the ranker."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX


class MaskedMeanPooling(keras.layers.Layer):  # type: ignore[misc]
    """Mean of the embeddings of a padded id list; an empty list gives a zero vector."""

    def __init__(self, vocabulary_size: int, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embedding = keras.layers.Embedding(vocabulary_size, dim)

    def call(self, ids: Any) -> Any:
        mask = ops.cast(ops.not_equal(ids, ANONYMOUS_INDEX), "float32")
        vectors = self.embedding(ids) * ops.expand_dims(mask, -1)
        return ops.sum(vectors, axis=1) / ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)


def mlp(sizes: list[int], name: str, activation: str = "relu") -> list[keras.layers.Layer]:
    return [
        keras.layers.Dense(size, activation=activation, name=f"{name}_{i}") for i, size in enumerate(sizes)
    ]


def column(x: Any) -> Any:
    """(batch,) float feature → (batch, 1)."""
    return ops.reshape(ops.cast(x, "float32"), (-1, 1))


def l2_normalize(x: Any) -> Any:
    """Unit vectors, so the dot product of the towers is a cosine (stable under temperature)."""
    return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=-1, keepdims=True), 1e-12))
