"""String → integer lookup with reserved out-of-vocabulary and anonymous buckets (pure NumPy)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

OOV_INDEX: Final = 0
"""Unseen values (a new user, item, device): the models learn one shared vector for them."""
ANONYMOUS_INDEX: Final = 1
"""Missing values (anonymous visitor, no history, padding of recent items)."""
RESERVED: Final = 2

IndexArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Vocabulary:
    """Values in fitted order; value i has index i + RESERVED."""

    values: tuple[str, ...]
    _lookup: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lookup", {v: i + RESERVED for i, v in enumerate(self.values)})

    @classmethod
    def fit(cls, values: Iterable[str | None], min_count: int = 1) -> Vocabulary:
        """Most frequent first, ties by value, so refits on the same data give the same indices."""
        counts: dict[str, int] = {}
        for v in values:
            if v is not None:
                counts[v] = counts.get(v, 0) + 1
        kept = sorted((v for v, c in counts.items() if c >= min_count), key=lambda v: (-counts[v], v))
        return cls(tuple(kept))

    @property
    def size(self) -> int:
        """Rows an embedding table needs (values plus the reserved buckets)."""
        return len(self.values) + RESERVED

    def lookup(self, values: Sequence[str | None] | npt.NDArray[np.object_]) -> IndexArray:
        """None/empty → ANONYMOUS_INDEX, unknown → OOV_INDEX."""
        get = self._lookup.get
        return np.fromiter(
            (ANONYMOUS_INDEX if v is None or v == "" else get(str(v), OOV_INDEX) for v in values),
            dtype=np.int64,
            count=len(values),
        )

    def decode(self, indices: npt.ArrayLike) -> list[str | None]:
        """Inverse of `lookup` for known values; reserved buckets decode to None."""
        return [self.values[i - RESERVED] if i >= RESERVED else None for i in np.asarray(indices).tolist()]
