"""Adam that updates only the embedding rows a batch touched (TensorFlow backend).

Keras 3's Adam densifies an embedding gradient (`tf.IndexedSlices`) and rewrites the whole
table and both moment tables every step: at the seed's 300k users that is ~20M floats per
step for a batch that touches 1-2k rows, and it dominated the step time (measured in
docs/benchmarks.md). Lazy Adam (as TF Addons' `LazyAdam` and PyTorch's `SparseAdam`) updates
the moments and weights of the touched rows only; rows not in a batch keep their moments,
the usual trade-off for large embedding tables. Dense gradients take Keras's own Adam step.
Rows repeated in a batch have their gradients summed first, so a touched row gets exactly
dense Adam's update (Keras 3.15's Adam squares each repeat separately instead: 0.12 off
after four steps in tests/unit/models/test_optimizers.py).

Compile the model with `jit_compile=use_xla(...)`: without XLA the lazy step measured no
faster than the dense one at 300k users (the scatters apparently still touch whole tables);
under XLA the DLRM step halved (`bench/training_step.py`, docs/benchmarks.md). With small
tables XLA gains nothing and its compile costs seconds per `fit`, so `auto` skips it there.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from recsys_workloads.contracts.models import XLA_MIN_TABLE_ROWS, XlaMode


def largest_table_rows(model: keras.Model) -> int:
    """Rows of the largest 2-D weight: an embedding table (dense kernels have a few hundred)."""
    return max((int(w.shape[0]) for w in model.weights if len(w.shape) == 2), default=0)


def use_xla(mode: XlaMode, model: keras.Model) -> bool:
    """Whether to XLA-compile the training step: `auto` when a table is large enough to gain."""
    if mode == "auto":
        return largest_table_rows(model) >= XLA_MIN_TABLE_ROWS
    return mode == "on"


class LazyAdam(keras.optimizers.Adam):  # type: ignore[misc]
    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if not isinstance(gradient, tf.IndexedSlices):
            super().update_step(gradient, variable, learning_rate)
            return
        dtype = variable.dtype
        rows, position = tf.unique(gradient.indices)  # a row may appear several times in a batch
        grad = tf.math.unsorted_segment_sum(tf.cast(gradient.values, dtype), position, tf.shape(rows)[0])
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        alpha = tf.cast(learning_rate, dtype) * tf.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * grad
        v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(grad)
        self.assign(m, tf.IndexedSlices(m_rows, rows))  # the backend's assign scatters slices
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        update = alpha * m_rows / (tf.sqrt(v_rows) + tf.cast(self.epsilon, dtype))
        self.assign_sub(variable, tf.IndexedSlices(update, rows))
