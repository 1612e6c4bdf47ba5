"""Item -> category, loaded once at start-up: per-event lookups never touch a store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from recsys_workloads.data import schema as s


@dataclass(frozen=True)
class ItemCategories:
    """`category[item_id]` is the item's top-level category (`category_l1`)."""

    category: dict[str, str]

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.category

    def __len__(self) -> int:
        return len(self.category)

    def of(self, item_id: str) -> str | None:
        return self.category.get(item_id)


def items_file(catalog: Path) -> Path:
    """A canonical dataset folder or its `items.parquet` directly."""
    return catalog / s.ITEMS_FILE if catalog.is_dir() else catalog


def load_item_categories(catalog: Path) -> ItemCategories:
    table = pq.read_table(items_file(catalog), columns=[s.ITEM_ID, s.CATEGORY_L1])
    ids = [str(v) for v in table.column(s.ITEM_ID).to_pylist()]
    cats = [str(v) for v in table.column(s.CATEGORY_L1).to_pylist()]
    return ItemCategories(dict(zip(ids, cats, strict=True)))


def dataset_origin(catalog: Path) -> int | None:
    """`origin_timestamp` of the canonical dataset's manifest (day 00), if the catalog is one."""
    manifest = catalog / s.MANIFEST_FILE if catalog.is_dir() else catalog.parent / s.MANIFEST_FILE
    if not manifest.is_file():
        return None
    value = json.loads(manifest.read_text()).get("origin_timestamp")
    return int(value) if value is not None else None
