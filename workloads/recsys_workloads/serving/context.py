"""Step 1 of the ensemble: fill what a client left out before any feature is computed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from recsys_workloads.vocab import DEVICE_TYPES, UNKNOWN_DEVICE


def preprocess_context(
    timestamps: NDArray[np.int64],
    devices: Sequence[str],
    now: int,
    known_devices: Sequence[str] = DEVICE_TYPES,
) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """Missing (<= 0) timestamps become `now`; missing or unknown devices become "unknown".

    Unknown device names are mapped, not rejected: a new app platform must not fail the
    homepage, it gets the out-of-vocabulary bucket the models were trained with.
    """
    ts = np.asarray(timestamps, dtype=np.int64).copy()
    ts[ts <= 0] = now
    known = set(known_devices)
    names = [d.strip().lower() for d in devices]
    return ts, np.array([d if d in known else UNKNOWN_DEVICE for d in names], dtype=np.object_)
