"""Benchmark one training step of both models: Keras Adam vs lazy Adam, with and without XLA.

Synthetic inputs at the seed's cardinalities (user vocabulary from `--users`), so the step
cost of the embedding tables is measured without loading a shop (docs/decisions/0012).
Each configuration runs in a fresh child process (XLA and TensorFlow keep global state).

    python bench/training_step.py                       # 300k and 3k users, batch 2,048
    python bench/training_step.py --users 300000 --batch 512
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

CONFIGS = (("adam", False), ("lazy", False), ("adam", True), ("lazy", True))
STEPS = 15


def _inputs(names_int: Any, names_float: Any, cardinality: dict[str, int], n: int) -> dict[str, Any]:
    import numpy as np

    from recsys_workloads.features import transform as ft

    rng = np.random.default_rng(0)
    x: dict[str, Any] = {k: rng.integers(2, cardinality[k], n).astype(np.int64) for k in names_int}
    x.update({k: rng.random(n).astype(np.float32) for k in names_float})
    x[ft.RECENT_ITEMS] = rng.integers(1, cardinality[ft.ITEM_ID], (n, 5)).astype(np.int64)
    x.update({k: rng.random((n, 64)).astype(np.float32) for k in ft.CONTENT_FEATURES})
    return x


def step_ms(model_name: str, users: int, batch: int, optimizer: str, jit: bool) -> float:
    """Mean step time over STEPS steps, after a warm-up fit that also compiles."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    from recsys_workloads.contracts.models import DlrmConfig, TwoTowerConfig
    from recsys_workloads.features import transform as ft
    from recsys_workloads.models import dlrm, two_tower
    from recsys_workloads.models.optimizers import LazyAdam
    from recsys_workloads.models.runtime import configure

    configure(0)
    card = {
        ft.USER_ID: users, ft.GENDER: 5, ft.AGE_BUCKET: 8, ft.TOP_CATEGORY: 30, ft.DEVICE: 6,
        ft.ITEM_ID: 2_470, ft.CATEGORY_L1: 30, ft.CATEGORY_L2: 90, ft.ITEM_GENDER: 5, ft.RECENT_ITEMS: 2_470,
    }  # fmt: skip
    content = {n: 64 for n in ft.CONTENT_FEATURES}
    make = LazyAdam if optimizer == "lazy" else keras.optimizers.Adam
    n = batch * STEPS
    if model_name == "two_tower":
        names = (*two_tower.QUERY_CATEGORICAL, *two_tower.CANDIDATE_CATEGORICAL)
        spec = two_tower.TowerSpec(
            config=TwoTowerConfig(batch_size=batch),
            cardinalities={k: card[k] for k in (*names, ft.RECENT_ITEMS)},
            content_dims=content,
            recent_items=5,
        )
        model = two_tower.build(spec)
        x = _inputs(names, (*two_tower.QUERY_DENSE, ft.PRICE), card, n)
        x[two_tower.CANDIDATE_KEY] = x[ft.ITEM_ID]
        x[two_tower.CANDIDATE_PROBABILITY] = np.full(n, 1 / card[ft.ITEM_ID], np.float32)
        model.compile(optimizer=make(3e-3), jit_compile=jit)
        data = tf.data.Dataset.from_tensor_slices((x,)).batch(batch)
    else:
        ranker_spec = dlrm.RankerSpec(
            config=DlrmConfig(batch_size=batch),
            cardinalities={k: card[k] for k in (*dlrm.CATEGORICAL, ft.RECENT_ITEMS)},
            content_dims=content,
            recent_items=5,
        )
        model = dlrm.build(ranker_spec)
        x = _inputs(dlrm.CATEGORICAL, dlrm.DENSE, card, n)
        y = (np.random.default_rng(1).random(n) < 0.2).astype(np.float32)
        model.compile(optimizer=make(2e-3), loss=keras.losses.BinaryCrossentropy(), jit_compile=jit)
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    model.fit(data.take(3), epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    return (time.perf_counter() - start) / STEPS * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, nargs="+", default=[300_000, 3_000])
    parser.add_argument("--batch", type=int, default=2_048)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        model_name, users, batch, optimizer, jit = args.child
        print(json.dumps(step_ms(model_name, int(users), int(batch), optimizer, jit == "1")))
        return
    table = Table(title=f"training step, batch {args.batch}, ms (examples/s)")
    table.add_column("model, users")
    for optimizer, jit in CONFIGS:
        table.add_column(f"{'Adam' if optimizer == 'adam' else 'LazyAdam'}{' + XLA' if jit else ''}")
    for model_name in ("dlrm", "two_tower"):
        for users in args.users:
            cells = []
            for optimizer, jit in CONFIGS:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", model_name, str(users), str(args.batch), optimizer,
                     "1" if jit else "0"],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                ms = float(out.stdout.strip().splitlines()[-1])
                cells.append(f"{ms:.0f} ({args.batch / ms * 1000:,.0f})")
            table.add_row(f"{model_name}, {users:,}", *cells)
    Console().print(table)


if __name__ == "__main__":
    main()
