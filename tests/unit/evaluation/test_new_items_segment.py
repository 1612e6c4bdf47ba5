"""The new-items segment on a hand-made shop: items without training clicks are out of the
fitted vocabulary, only queries that clicked one count, and only those items are relevant."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from recsys_workloads.evaluation.report import retrieval_table
from recsys_workloads.evaluation.retrieval import (
    NEW_ITEMS,
    RetrievalTask,
    popularity_ranking,
    popularity_scores,
    retrieval_task,
)
from recsys_workloads.features.fit import fit_transforms
from recsys_workloads.features.tables import Catalog, Interactions, Users

ITEMS = [f"i{n}" for n in range(8)]  # i0-i3 clicked in training; i4-i7 never
DAY0, DAY1 = 1_767_571_200, 1_767_571_200 + 86_400
# (user, anonymous id, item, timestamp, day); every row is a click
CLICKS = [
    ("u1", None, "i0", DAY0 + 10, 0),
    ("u1", None, "i1", DAY0 + 20, 0),
    ("u2", None, "i2", DAY0 + 30, 0),
    ("u2", None, "i0", DAY0 + 40, 0),
    ("u3", None, "i3", DAY0 + 50, 0),
    ("u1", None, "i0", DAY1 + 10, 1),  # u1: an old and a new item
    ("u1", None, "i5", DAY1 + 20, 1),
    ("u2", None, "i1", DAY1 + 30, 1),  # u2: old items only
    (None, "anon-1", "i6", DAY1 + 40, 1),  # anonymous: a new item only
]


@pytest.fixture(scope="module")
def shop() -> tuple[Catalog, Users, Interactions]:
    n = len(ITEMS)
    catalog = Catalog(
        item_ids=np.array(ITEMS, dtype=object),
        category_l1=np.array(["a", "b"] * (n // 2), dtype=object),
        category_l2=np.array(["a1", "b1"] * (n // 2), dtype=object),
        item_gender=np.full(n, "Any", dtype=object),
        price=np.linspace(5.0, 40.0, n),
        first_day=np.zeros(n, dtype=np.int64),
        descriptions=np.full(n, "", dtype=object),
    )
    users = Users(
        user_ids=np.array(["u1", "u2", "u3"], dtype=object),
        age=np.array([30.0, 40.0, 50.0]),
        gender=np.array(["F", "M", "F"], dtype=object),
        first_day=np.zeros(3),
    )
    user, anonymous, item, ts, day = zip(*CLICKS, strict=True)
    interactions = Interactions(
        user_id=np.array(user, dtype=object),
        anonymous_id=np.array([a or f"anon-{u}" for a, u in zip(anonymous, user, strict=True)], dtype=object),
        item_id=np.array(item, dtype=object),
        timestamp=np.array(ts, dtype=np.int64),
        device=np.full(len(CLICKS), "desktop", dtype=object),
        clicked=np.ones(len(CLICKS), dtype=bool),
        day=np.array(day, dtype=np.int64),
    )
    return catalog, users, interactions


@pytest.fixture(scope="module")
def task(shop: tuple[Catalog, Users, Interactions]) -> RetrievalTask:
    catalog, users, interactions = shop
    t = fit_transforms(catalog, users, interactions.select(interactions.day == 0))
    return retrieval_task(t, catalog, users, interactions, interactions, day=1)


def _row(rows: list[dict[str, Any]], method: str, segment: str) -> dict[str, Any]:
    return next(r for r in rows if r["method"] == method and r["segment"] == segment)


def test_items_without_training_clicks_are_the_new_items(task: RetrievalTask) -> None:
    assert task.new_items.tolist() == [False] * 4 + [True] * 4
    assert sorted(task.visitor.tolist()) == ["anon-1", "u1", "u2"]


def test_new_items_segment_keeps_queries_with_a_new_item_and_only_those_items_as_relevant(
    task: RetrievalTask,
) -> None:
    # Every query ranks the old items it clicked first, then i5, then i6.
    ranked = np.array([[0, 1, 5, 6]] * len(task), dtype=np.int64)
    rows = retrieval_table(task, {"fixed": ranked}, ks=(2, 3))
    new = _row(rows, "fixed", NEW_ITEMS)
    assert new["queries"] == 2  # u1 and anon-1; u2 clicked no new item
    # u1: relevant {i5} (not i0) found at rank 3; anon-1: relevant {i6} at rank 4.
    assert new["recall@2"] == 0.0
    assert new["recall@3"] == pytest.approx(0.5)
    assert new["ndcg@3"] == pytest.approx(0.5 * (1 / np.log2(4)))
    everyone = _row(rows, "fixed", "all")
    assert everyone["queries"] == 3
    assert everyone["recall@2"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)  # i0 counts outside the segment


def test_popularity_of_training_clicks_never_retrieves_new_items(
    shop: tuple[Catalog, Users, Interactions], task: RetrievalTask
) -> None:
    catalog, _, interactions = shop
    popularity = popularity_scores(interactions.select(interactions.day == 0), catalog)
    rows = retrieval_table(task, {"popularity": popularity_ranking(task, popularity, 4)}, ks=(4,))
    assert _row(rows, "popularity", NEW_ITEMS)["recall@4"] == 0.0
    assert _row(rows, "popularity", "all")["recall@4"] > 0.0
    assert {r["segment"] for r in rows} == {"all", "registered", "new", "anonymous", NEW_ITEMS}
