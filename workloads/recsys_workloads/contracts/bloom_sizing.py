"""Bloom-filter sizing: the bits and hashes every writer and reader of a seen filter must agree on.

Pure math, so the operator's spec checks and the data plane's filters share one definition.
"""

from __future__ import annotations

import math
from typing import NamedTuple

_LN2_SQ = math.log(2) ** 2
MAX_BITS = 2**32
"""Redis bitmaps hold at most 2^32 bits (512 MB strings)."""


class BloomSizing(NamedTuple):
    """Bits `m` and hash count `k` of one filter."""

    bits: int
    hashes: int


def bloom_sizing(capacity: int, error_rate: float) -> BloomSizing:
    """Optimal m = -n ln p / ln^2 2 bits and k = (m/n) ln 2 hashes for n items at rate p."""
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
    if not 0.0 < error_rate < 1.0:
        raise ValueError(f"error_rate must be in (0, 1), got {error_rate}")
    bits = math.ceil(-capacity * math.log(error_rate) / _LN2_SQ)
    if bits > MAX_BITS:
        raise ValueError(
            f"{bits} bits exceed a Redis bitmap's {MAX_BITS}; lower capacity or raise error_rate"
        )
    hashes = max(1, round(bits / capacity * math.log(2)))
    return BloomSizing(bits, hashes)


def expected_fpr(bits: int, hashes: int, inserted: int) -> float:
    """Textbook false-positive rate (1 - e^(-k n / m))^k after `inserted` items."""
    base: float = 1.0 - math.exp(-hashes * inserted / bits)
    return float(base**hashes)


def per_filter_error_rate(error_rate: float, filters: int) -> float:
    """Rate each of `filters` OR-ed filters needs so the union stays at `error_rate`.

    A probe is a false positive if any filter says yes: 1 - (1 - p_f)^filters = p.
    """
    if filters < 1:
        raise ValueError(f"filters must be >= 1, got {filters}")
    return 1.0 - float((1.0 - error_rate) ** (1.0 / filters))
