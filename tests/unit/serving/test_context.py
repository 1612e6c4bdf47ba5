"""Step 1: context preprocessing fills what a client left out."""

from __future__ import annotations

import numpy as np

from recsys_workloads.serving.context import preprocess_context


def test_missing_timestamps_become_now_and_given_ones_are_kept() -> None:
    ts, _ = preprocess_context(np.array([0, -1, 1_700_000_000]), ["web", "web", "web"], now=1_800_000_000)
    assert ts.tolist() == [1_800_000_000, 1_800_000_000, 1_700_000_000]


def test_missing_or_unknown_devices_map_to_the_unknown_bucket() -> None:
    _, devices = preprocess_context(np.array([1, 1, 1, 1]), ["", "iOS ", "smart-fridge", "android"], now=5)
    assert devices.tolist() == ["unknown", "ios", "unknown", "android"]


def test_preprocessing_does_not_modify_the_callers_array() -> None:
    given = np.array([0, 7])
    preprocess_context(given, ["web", "web"], now=99)
    assert given.tolist() == [0, 7]
