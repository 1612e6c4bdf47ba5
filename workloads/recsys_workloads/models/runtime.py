"""Seeds and thread limits: training must be repeatable and share 2 cores politely."""

from __future__ import annotations

import keras
import tensorflow as tf

_configured = False


def configure(seed: int, threads: int = 2) -> None:
    global _configured
    if not _configured:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # already initialised by an earlier import: keep its pools
            pass
        _configured = True
    keras.utils.set_random_seed(seed)
