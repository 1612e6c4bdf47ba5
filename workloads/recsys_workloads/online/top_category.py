"""A visitor's top category from the categories of the recent items (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence


def top_category(recent_newest_first: Sequence[str], category_of: Callable[[str], str | None]) -> str | None:
    """The most frequent category among recent items; ties go to the most recently seen one.

    Items without a known category are skipped; no categorised item -> None.
    """
    cats = [c for c in (category_of(item) for item in recent_newest_first) if c is not None]
    if not cats:
        return None
    counts = Counter(cats)
    best = max(counts.values())
    return next(c for c in cats if counts[c] == best)
