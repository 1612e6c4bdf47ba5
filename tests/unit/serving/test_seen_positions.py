"""Precomputed seen-filter bit positions and client-side bitmap tests (pure, no Redis).

Serving hashes the catalog once (`ItemCache.seen_positions`) and tests the fetched day
bitmaps in NumPy (`bloom.bitmaps_contain`); both must agree bit for bit with what the event
service writes (`bloom.bit_positions` of string ids, SETBIT) and what GETBIT would answer.
"""

from __future__ import annotations

import numpy as np

from recsys_workloads.features import transform as ft
from recsys_workloads.online import bloom
from recsys_workloads.serving.item_cache import ItemCache

BITS, HASHES = 47926, 7


def _cache(ids: list[str]) -> ItemCache:
    return ItemCache(np.array(ids), {name: np.arange(len(ids)) for name in ft.ITEM_FEATURES})


def _setbit(bitmap: bytearray, pos: int) -> None:
    """Redis SETBIT: grows the string, bit 0 is the first byte's most significant bit."""
    if pos // 8 >= len(bitmap):
        bitmap.extend(b"\0" * (pos // 8 + 1 - len(bitmap)))
    bitmap[pos // 8] |= 0x80 >> (pos % 8)


def _getbit(bitmap: bytes | None, pos: int) -> int:
    if not bitmap or pos // 8 >= len(bitmap):
        return 0
    return (bitmap[pos // 8] >> (7 - pos % 8)) & 1


def test_catalog_positions_equal_the_hashed_ones_of_each_item_id() -> None:
    ids = ["a", "item-42", *[f"sku-{i}" for i in range(500)]]
    positions = _cache(ids).seen_positions(BITS, HASHES)
    assert positions.dtype == np.uint32 and positions.shape == (len(ids), HASHES)
    assert np.array_equal(positions, bloom.bit_positions(ids, BITS, HASHES))
    # the golden values of tests/unit/online/test_bloom_math.py: what Valkey already holds
    assert positions[0].tolist() == [5677, 34450, 24519, 5366, 43361, 24208, 14277]
    assert positions[1].tolist() == [21519, 28938, 27135, 34554, 32751, 40170, 38367]


def test_catalog_positions_are_hashed_once_per_sizing() -> None:
    cache = _cache(["a", "b"])
    assert cache.seen_positions(BITS, HASHES) is cache.seen_positions(BITS, HASHES)
    assert cache.seen_positions(1000, 3).shape == (2, 3)


def test_bitmaps_contain_answers_what_getbit_would_for_every_filter_or_ed() -> None:
    rng = np.random.default_rng(0)
    members = rng.integers(0, BITS, size=(60, HASHES))
    days: list[bytes | None] = [None]
    for day in range(3):  # three day filters of 20 members each, of different lengths
        bitmap = bytearray()
        for row in members[day * 20 : day * 20 + 20]:
            for pos in row.tolist():
                _setbit(bitmap, pos)
        days.append(bytes(bitmap))
    probes = np.concatenate([members, rng.integers(0, BITS, size=(500, HASHES))])
    expected = [any(all(_getbit(day, int(p)) for p in row) for day in days) for row in probes.tolist()]
    got = bloom.bitmaps_contain(days, probes.astype(np.uint32))
    assert got.tolist() == expected
    assert got[:60].all()  # no false negatives


def test_bits_past_a_short_bitmap_and_missing_filters_read_as_unset() -> None:
    short = bytearray()
    _setbit(short, 3)
    positions = np.array([[3, 3], [3, 9000], [9000, 9001]])
    assert bloom.bitmaps_contain([bytes(short)], positions).tolist() == [True, False, False]
    assert bloom.bitmaps_contain([None, b""], positions).tolist() == [False, False, False]
    assert bloom.bitmaps_contain([bytes(short)], np.empty((0, 2), dtype=np.int64)).shape == (0,)
