"""Pure Bloom-filter hashing: bit positions, no Redis (sizing: recsys_workloads.contracts.bloom_sizing).

Positions must be identical in every process that writes or reads a filter (event
service, Triton's Python backend on numpy 1.26, benchmarks on numpy 2.x), so hashing
is our own: SplitMix64 over uint64 arrays for integer ids (vectorised, wrap-around
arithmetic behaves the same in numpy 1.x and 2.x) and BLAKE2b for string ids. Python's
`hash()` is salted per process and would silently break the filter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

ItemIds = Sequence[int] | Sequence[str] | NDArray[Any]
"""A batch of item ids: integers (vectorised hashing) or strings (BLAKE2b per id)."""

_U64 = np.uint64
_SEED_1 = _U64(0x9E3779B97F4A7C15)
_SEED_2 = _U64(0xD1B54A32D192ED03)
_MIX_1 = _U64(0xBF58476D1CE4E5B9)
_MIX_2 = _U64(0x94D049BB133111EB)


def _splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser: a bijective avalanche mix of 64-bit words (wraps mod 2^64)."""
    x = (x ^ (x >> _U64(30))) * _MIX_1
    x = (x ^ (x >> _U64(27))) * _MIX_2
    return x ^ (x >> _U64(31))


def _digest(item: object) -> bytes:
    if not isinstance(item, str):
        raise TypeError(f"item ids must be all integers or all strings, got {type(item).__name__}")
    return hashlib.blake2b(item.encode("utf-8"), digest_size=16).digest()


def _string_hashes(ids: NDArray[Any]) -> NDArray[np.uint64]:
    """Two little-endian words of each id's 16-byte BLAKE2b digest, shape (n, 2)."""
    digests = b"".join([_digest(item) for item in ids.tolist()])
    return np.frombuffer(digests, dtype="<u8").reshape(-1, 2).astype(np.uint64)


def item_hashes(item_ids: ItemIds) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """Two independent 64-bit hashes per item (h2 odd), deterministic across processes.

    Integer ids are hashed as their int64 value: `5`, `np.int32(5)` and `np.int64(5)`
    agree; the string "5" hashes differently, so callers must use one id type.
    """
    arr = np.asarray(item_ids)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.size == 0:
        empty = np.empty(0, dtype=np.uint64)
        return empty, empty.copy()
    if arr.dtype.kind in "iu":
        words = arr.astype(np.int64).view(np.uint64)
        h1 = _splitmix64(words + _SEED_1)
        h2 = _splitmix64(words + _SEED_2) | _U64(1)
        return h1, h2
    if arr.dtype.kind in "UO":
        both = _string_hashes(arr)
        return both[:, 0].copy(), both[:, 1] | _U64(1)
    raise TypeError(f"item ids must be integers or strings, got dtype {arr.dtype}")


def bit_positions(item_ids: ItemIds, bits: int, hashes: int) -> NDArray[np.int64]:
    """Kirsch-Mitzenmacher double hashing: position_i = (h1 + i * h2) mod m, shape (n, k)."""
    if bits < 1 or hashes < 1:
        raise ValueError(f"bits and hashes must be >= 1, got {bits}, {hashes}")
    h1, h2 = item_hashes(item_ids)
    steps = np.arange(hashes, dtype=np.uint64)
    combined = h1[:, None] + steps[None, :] * h2[:, None]
    return (combined % _U64(bits)).astype(np.int64)


def bitmaps_contain(
    bitmaps: Sequence[bytes | None], positions: NDArray[np.integer[Any]]
) -> NDArray[np.bool_]:
    """Membership of each row of `positions` (n, k) in the OR of Redis-bitmap Bloom filters.

    What GETBIT would answer, for every position and filter at once on fetched copies (bit 0
    is the first byte's high bit); a missing filter (None) and bits past a string's end read 0.
    """
    pos = np.asarray(positions, dtype=np.int64)
    live = [b for b in bitmaps if b]
    if not live or pos.size == 0:
        return np.zeros(len(pos), dtype=np.bool_)
    width = max(len(b) for b in live)
    stacked = np.zeros((len(live), width + 1), dtype=np.uint8)  # last column: "past the end"
    for row, bitmap in enumerate(live):
        stacked[row, : len(bitmap)] = np.frombuffer(bitmap, dtype=np.uint8)
    byte = np.minimum(pos >> 3, width)
    shift = (7 - (pos & 7)).astype(np.uint8)
    bits = (stacked[:, byte] >> shift) & np.uint8(1)  # (filters, n, k)
    return np.asarray(bits.all(axis=2).any(axis=0), dtype=np.bool_)
