"""The derived top category (pure)."""

from __future__ import annotations

from recsys_workloads.online.top_category import top_category

CATS = {"a": "shoes", "b": "shoes", "c": "books", "d": "books", "e": "toys"}


def test_the_most_frequent_category_of_the_recent_items_wins() -> None:
    assert top_category(["c", "a", "b", "e"], CATS.get) == "shoes"


def test_a_tie_goes_to_the_category_seen_most_recently() -> None:
    assert top_category(["c", "a", "b", "d"], CATS.get) == "books"
    assert top_category(["a", "c", "d", "b"], CATS.get) == "shoes"


def test_items_without_a_category_are_skipped_and_none_left_means_none() -> None:
    assert top_category(["zz", "e"], CATS.get) == "toys"
    assert top_category(["zz"], CATS.get) is None
    assert top_category([], CATS.get) is None
