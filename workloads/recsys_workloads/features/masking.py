"""Cold-start feature masking for training (pure NumPy, fresh draws every batch).

Masked rows look exactly like what serving sends for an anonymous visitor, a user the
vocabulary has never seen, an unknown device or a new item, so those requests land on
buckets the models were trained on instead of untrained vectors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from recsys_workloads.features import transform as ft
from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, OOV_INDEX

ANONYMOUS_MASKED = (ft.USER_ID, ft.GENDER, ft.AGE_BUCKET, ft.TOP_CATEGORY, ft.RECENT_ITEMS)


def mask_features(
    features: Mapping[str, npt.NDArray[np.generic]],
    rng: np.random.Generator,
    *,
    anonymous_rate: float = 0.0,
    new_user_rate: float = 0.0,
    device_rate: float = 0.0,
    new_item_rate: float = 0.0,
) -> ft.Features:
    """A masked copy; features absent from `features` are left alone."""
    out = dict(features)
    n = len(next(iter(features.values())))
    anonymous = rng.random(n) < anonymous_rate
    if ft.USER_ID in out:
        for name in ANONYMOUS_MASKED:
            if name in out:
                values = out[name].copy()
                values[anonymous] = ANONYMOUS_INDEX
                out[name] = values
        age = out[ft.AGE].copy()
        age[anonymous] = 0.0
        out[ft.AGE] = age
        new_user = ~anonymous & (rng.random(n) < new_user_rate)
        out[ft.USER_ID] = np.where(new_user, OOV_INDEX, out[ft.USER_ID])
    if ft.DEVICE in out:
        out[ft.DEVICE] = np.where(rng.random(n) < device_rate, OOV_INDEX, out[ft.DEVICE])
    if ft.ITEM_ID in out:
        out[ft.ITEM_ID] = np.where(rng.random(n) < new_item_rate, OOV_INDEX, out[ft.ITEM_ID])
    return out
