"""Sizing and hashing of the seen-items Bloom filters (pure, no Redis)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_workloads.contracts import bloom_sizing
from recsys_workloads.online import bloom

# Golden positions: any change here silently orphans every filter already in Valkey,
# and a mismatch between numpy 1.26 (Triton) and 2.x (event service) would too.
GOLDEN_INT = {
    0: [38115, 33476, 19615, 14976, 1115, 44402, 30541],
    1: [21317, 43568, 8671, 30922, 43951, 18276, 31305],
    42: [34683, 21928, 9173, 44344, 31589, 18834, 15301],
    2**40: [44827, 42760, 40693, 47848, 45781, 5010, 2943],
    -1: [2962, 373, 45710, 43121, 40532, 37943, 35354],
}
GOLDEN_STR = {
    "a": [5677, 34450, 24519, 5366, 43361, 24208, 14277],
    "item-42": [21519, 28938, 27135, 34554, 32751, 40170, 38367],
}


def test_sizing_matches_the_textbook_formula_for_5000_items_at_one_percent() -> None:
    assert bloom_sizing.bloom_sizing(5000, 0.01) == (47926, 7)


def test_sizing_grows_with_capacity_and_with_a_stricter_rate() -> None:
    base = bloom_sizing.bloom_sizing(1000, 0.01)
    assert bloom_sizing.bloom_sizing(2000, 0.01).bits > base.bits
    stricter = bloom_sizing.bloom_sizing(1000, 0.001)
    assert stricter.bits > base.bits and stricter.hashes > base.hashes


def test_sized_filter_expects_the_configured_rate_at_capacity() -> None:
    bits, hashes = bloom_sizing.bloom_sizing(5000, 0.01)
    assert bloom_sizing.expected_fpr(bits, hashes, 5000) == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize(("capacity", "rate"), [(0, 0.01), (10, 0.0), (10, 1.0), (10**9, 1e-9)])
def test_sizing_rejects_impossible_parameters(capacity: int, rate: float) -> None:
    with pytest.raises(ValueError):
        bloom_sizing.bloom_sizing(capacity, rate)


def test_per_filter_rate_keeps_the_union_of_a_window_at_the_configured_rate() -> None:
    per_day = bloom_sizing.per_filter_error_rate(0.01, 7)
    assert 1 - (1 - per_day) ** 7 == pytest.approx(0.01)
    assert bloom_sizing.per_filter_error_rate(0.01, 1) == pytest.approx(0.01)


def test_integer_positions_match_golden_values() -> None:
    ids = list(GOLDEN_INT)
    assert bloom.bit_positions(ids, 47926, 7).tolist() == list(GOLDEN_INT.values())


def test_string_positions_match_golden_values() -> None:
    ids = list(GOLDEN_STR)
    assert bloom.bit_positions(ids, 47926, 7).tolist() == list(GOLDEN_STR.values())


def test_integer_width_and_container_do_not_change_positions() -> None:
    ids = [0, 1, 42]
    expected = bloom.bit_positions(ids, 47926, 7)
    for arr in (np.array(ids, dtype=np.int32), np.array(ids, dtype=np.uint16), np.array(ids)):
        assert np.array_equal(bloom.bit_positions(arr, 47926, 7), expected)


def test_positions_stay_in_range_and_spread_evenly() -> None:
    bits = 1000
    pos = bloom.bit_positions(np.arange(20_000), bits, 5)
    assert pos.shape == (20_000, 5) and pos.min() >= 0 and pos.max() < bits
    counts = np.bincount(pos.ravel(), minlength=bits)
    expected = pos.size / bits
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < bits + 5 * math.sqrt(2 * bits)  # ~chi-square with bits-1 dof


def test_empty_batch_yields_no_positions() -> None:
    assert bloom.bit_positions([], 100, 3).shape == (0, 3)


def test_mixed_or_unsupported_id_types_are_rejected() -> None:
    with pytest.raises(TypeError):
        bloom.item_hashes(np.array([1.5, 2.5]))
    with pytest.raises(TypeError):
        bloom.item_hashes(np.array(["a", 3], dtype=object))
