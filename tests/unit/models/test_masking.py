"""Cold-start masking: configured rates, and masked rows look like real anonymous requests."""

from __future__ import annotations

import numpy as np

from recsys_workloads.features import transform as ft
from recsys_workloads.features.masking import ANONYMOUS_MASKED, mask_features
from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, OOV_INDEX

N = 200_000


def features() -> ft.Features:
    ids = np.full(N, 5, dtype=np.int64)
    return {
        ft.USER_ID: ids, ft.GENDER: ids, ft.AGE_BUCKET: ids, ft.TOP_CATEGORY: ids,
        ft.RECENT_ITEMS: np.full((N, 3), 7, dtype=np.int64), ft.AGE: np.ones(N, np.float32),
        ft.DEVICE: ids, ft.ITEM_ID: ids,
    }  # fmt: skip


def test_masking_rates_match_the_configuration() -> None:
    out = mask_features(
        features(),
        np.random.default_rng(0),
        anonymous_rate=0.05,
        new_user_rate=0.05,
        device_rate=0.05,
        new_item_rate=0.1,
    )
    anonymous = out[ft.USER_ID] == ANONYMOUS_INDEX
    assert abs(anonymous.mean() - 0.05) < 0.003
    assert abs((out[ft.USER_ID] == OOV_INDEX).mean() - 0.05 * 0.95) < 0.003
    assert abs((out[ft.DEVICE] == OOV_INDEX).mean() - 0.05) < 0.003
    assert abs((out[ft.ITEM_ID] == OOV_INDEX).mean() - 0.1) < 0.003


def test_anonymous_rows_lose_every_user_feature_together() -> None:
    out = mask_features(features(), np.random.default_rng(1), anonymous_rate=0.1)
    anonymous = out[ft.USER_ID] == ANONYMOUS_INDEX
    for name in ANONYMOUS_MASKED:
        values = out[name].reshape(N, -1)
        assert (values[anonymous] == ANONYMOUS_INDEX).all()
        assert (values[~anonymous] != ANONYMOUS_INDEX).all()
    assert (out[ft.AGE][anonymous] == 0).all()
    assert (out[ft.DEVICE] == 5).all()  # other features untouched


def test_masking_copies_instead_of_editing_the_training_arrays() -> None:
    original = features()
    mask_features(original, np.random.default_rng(2), anonymous_rate=1.0, device_rate=1.0, new_item_rate=1.0)
    assert (original[ft.USER_ID] == 5).all()
    assert (original[ft.DEVICE] == 5).all()
    assert (original[ft.RECENT_ITEMS] == 7).all()
