"""Fit the transforms on training days and turn rows into model features (training side)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys_workloads.contracts.keys import SECONDS_PER_DAY
from recsys_workloads.features import transform as ft
from recsys_workloads.features.history import UserHistory, user_history
from recsys_workloads.features.tables import Catalog, Interactions, Users
from recsys_workloads.features.vocabulary import Vocabulary


def fit_transforms(
    catalog: Catalog,
    users: Users,
    train: Interactions,
    recent_items: int = 5,
    history_memory_s: int | None = None,
) -> ft.FittedTransforms:
    """Ids are learned only from training clicks: later users and items meet the OOV bucket.

    `history_memory_s`: how long the online store keeps a visitor's history (see `history`).
    """
    clicked = train.select(train.clicked)
    known_users = set(u for u in clicked.user_id.tolist() if u is not None)
    user_mask = np.array([u in known_users for u in users.user_ids.tolist()], dtype=bool)
    ages = users.age[user_mask & ~np.isnan(users.age)]
    rows = catalog.rows(clicked.item_id)
    log_price = np.log1p(catalog.price[np.unique(rows)])
    return ft.FittedTransforms(
        vocabularies={
            ft.USER_ID: Vocabulary.fit(clicked.user_id.tolist()),
            ft.GENDER: Vocabulary.fit(users.gender.tolist()),
            ft.DEVICE: ft.default_device_vocabulary(),
            ft.ITEM_ID: Vocabulary.fit(clicked.item_id.tolist()),
            ft.CATEGORY_L1: Vocabulary.fit(catalog.category_l1.tolist()),
            ft.CATEGORY_L2: Vocabulary.fit(catalog.category_l2.tolist()),
            ft.ITEM_GENDER: Vocabulary.fit(catalog.item_gender.tolist()),
        },
        age_mean=float(ages.mean()) if len(ages) else 0.0,
        age_std=float(ages.std()) if len(ages) else 1.0,
        log_price_mean=float(log_price.mean()),
        log_price_std=float(log_price.std()),
        recent_items=recent_items,
        history_memory_s=history_memory_s,
    )


def history_before(
    interactions: Interactions, catalog: Catalog, day: int, recent: int, memory_s: int | None = None
) -> UserHistory:
    """What the online store knew about every visitor when day `day` started (UTC-aligned days).

    `memory_s`: the online state's lifetime after a visitor's last interaction (None: forever).
    """
    past = interactions.select(interactions.clicked & (interactions.day < day))
    category = dict(zip(catalog.item_ids.tolist(), catalog.category_l1.tolist(), strict=True))
    start = day_start(interactions, day)
    return user_history(
        past.visitor, past.item_id, past.timestamp, category, recent, as_of=start, memory_s=memory_s
    )


def day_start(interactions: Interactions, day: int) -> int:
    """Unix time at which dataset day `day` starts (ingestion aligns days to UTC midnights)."""
    if len(interactions) == 0:
        return 0
    ts, d = int(interactions.timestamp[0]), int(interactions.day[0])
    return ts - ts % SECONDS_PER_DAY + (day - d) * SECONDS_PER_DAY


def item_features(
    t: ft.FittedTransforms, catalog: Catalog, content: Mapping[str, npt.NDArray[np.float32]]
) -> ft.Features:
    """One row per catalog item, in catalog order: the serving item cache has the same rows."""
    features = ft.transform_items(
        t,
        catalog.item_ids.tolist(),
        catalog.category_l1.tolist(),
        catalog.category_l2.tolist(),
        catalog.item_gender.tolist(),
        catalog.price,
    )
    for name in ft.CONTENT_FEATURES:
        features[name] = np.asarray(content[name], dtype=np.float32)
    return features


def query_features(
    t: ft.FittedTransforms,
    users: Users,
    user_ids: list[str | None],
    timestamps: npt.NDArray[np.int64],
    devices: list[str | None],
    history: UserHistory,
    visitors: list[str | None] | None = None,
) -> ft.Features:
    """Profile by user id; history by visitor (anonymous sessions have one online too)."""
    ages, genders = users.attributes(user_ids)
    tops, recent = history.lookup(visitors if visitors is not None else user_ids)
    return {
        **ft.transform_users(t, user_ids, ages, genders, tops, recent),
        **ft.transform_context(t, timestamps, devices),
    }


@dataclass(frozen=True)
class Examples:
    """Model inputs of some interaction rows: query features plus the catalog row of the item."""

    query: ft.Features
    item_row: npt.NDArray[np.int64]
    label: npt.NDArray[np.float32]
    day: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.item_row)


def examples(
    t: ft.FittedTransforms,
    catalog: Catalog,
    users: Users,
    history_source: Interactions,
    rows: Interactions,
    days: Iterable[int],
) -> Examples:
    """Rows of `days`, each with the visitor's online history as of the start of its day."""
    parts: list[Examples] = []
    for day in sorted(set(days)):
        chosen = rows.select(rows.day == day)
        if len(chosen) == 0:
            continue
        history = history_before(history_source, catalog, day, t.recent_items, t.history_memory_s)
        query = query_features(
            t,
            users,
            chosen.user_id.tolist(),
            chosen.timestamp,
            chosen.device.tolist(),
            history,
            chosen.visitor.tolist(),
        )
        parts.append(
            Examples(query, catalog.rows(chosen.item_id), chosen.clicked.astype(np.float32), chosen.day)
        )
    if not parts:
        raise ValueError("no interaction rows in the requested days")
    return Examples(
        query=ft.concat([p.query for p in parts]),
        item_row=np.concatenate([p.item_row for p in parts]),
        label=np.concatenate([p.label for p in parts]),
        day=np.concatenate([p.day for p in parts]),
    )
