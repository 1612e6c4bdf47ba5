"""Lazy Adam: Adam on the embedding rows a batch touched, nothing on the others."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from recsys_workloads.contracts.models import XLA_MIN_TABLE_ROWS
from recsys_workloads.models.optimizers import LazyAdam, largest_table_rows, use_xla


def _train(
    optimizer: keras.optimizers.Optimizer, batches: list[list[int]], jit: bool, dense: bool = False
) -> np.ndarray:
    keras.utils.set_random_seed(0)
    table = keras.Variable(np.random.default_rng(0).normal(size=(6, 3)).astype("float32"))
    target = tf.constant(np.linspace(-1, 1, 3), dtype="float32")
    optimizer.build([table])

    @tf.function(jit_compile=jit)  # type: ignore[untyped-decorator]
    def step(rows: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(tf.gather(table, rows) - target))
        gradient = tape.gradient(loss, table)
        optimizer.apply([tf.convert_to_tensor(gradient) if dense else gradient], [table])

    for rows in batches:
        step(tf.constant(rows))
    return np.asarray(table.numpy())


@pytest.mark.parametrize("jit", [False, True])
def test_equals_adam_when_every_row_is_touched_with_repeats(jit: bool) -> None:
    batches = [[0, 1, 2, 3, 4, 5, 0, 0], [5, 4, 3, 2, 1, 0, 3]] * 2  # repeated rows: summed gradients
    lazy = _train(LazyAdam(0.05), batches, jit)
    dense = _train(keras.optimizers.Adam(0.05), batches, jit, dense=True)  # the reference: dense gradients
    np.testing.assert_allclose(lazy, dense, rtol=1e-5, atol=1e-6)
    assert not np.allclose(lazy, _train(LazyAdam(0.05), [], jit))  # it did train


def test_rows_outside_the_batch_keep_their_values() -> None:
    start = _train(LazyAdam(0.05), [[0, 1]], jit=True)
    lazy = _train(LazyAdam(0.05), [[0, 1], [2]], jit=True)
    dense = _train(keras.optimizers.Adam(0.05), [[0, 1], [2]], jit=True)
    np.testing.assert_array_equal(lazy[:2], start[:2])  # untouched in step 2: unchanged
    assert not np.allclose(lazy[2], start[2])  # touched: updated
    assert not np.allclose(dense[:2], start[:2])  # dense Adam keeps moving them with momentum


def _embedding_model(rows: int) -> keras.Model:
    inputs = keras.Input(shape=(), dtype="int64")
    hidden = keras.layers.Dense(8)(keras.layers.Embedding(rows, 4)(inputs))
    return keras.Model(inputs, hidden)


def test_auto_compiles_with_xla_only_for_a_large_embedding_table() -> None:
    small, large = _embedding_model(XLA_MIN_TABLE_ROWS - 1), _embedding_model(XLA_MIN_TABLE_ROWS)
    assert largest_table_rows(small) == XLA_MIN_TABLE_ROWS - 1  # the table, not the 4 x 8 kernel
    assert (use_xla("auto", small), use_xla("auto", large)) == (False, True)
    assert (use_xla("on", small), use_xla("off", large)) == (True, False)
