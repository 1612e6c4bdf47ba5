"""What the demo page shows beside item ids: names, categories, prices, images, demo visitors.

Loaded once from the canonical dataset (or a bare `items.parquet`) when the API starts with
`ApiConfig.catalog`. pyarrow is imported only here and only when a catalog is configured, so
the API itself stays importable without it.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from recsys_workloads.data import schema as s
from recsys_workloads.vocab import ANONYMOUS_PREFIX

IMAGE_SUFFIX = ".png"
NEW_USER_PREFIX = "new-"


class ItemInfo(BaseModel):
    item_id: str
    name: str | None = Field(description="product name; null when the catalog has none")
    category_l1: str
    category_l2: str
    price: float | None
    image: str | None = Field(
        description="image URL: the catalog's own, or /v1/items/{id}/image for images/<id>.png; "
        "null: none (the page draws a placeholder)"
    )


class RegisteredVisitor(BaseModel):
    user_id: str
    interactions: int = Field(description="clicked interactions in the dataset")
    top_category: str | None = Field(description="category of most of them")


class DemoVisitors(BaseModel):
    """Whom the page can impersonate: users with the most history, a fresh anonymous id, a new user."""

    registered: list[RegisteredVisitor]
    anonymous_id: str = Field(description="a fresh anon-... id (no online state yet)")
    new_user_id: str = Field(description="a fresh user id unknown to the model (cold start)")


def fresh_visitor_ids() -> tuple[str, str]:
    """A new anonymous id and a new user id; random, so every page load starts clean."""
    return f"{ANONYMOUS_PREFIX}demo-{uuid.uuid4().hex[:10]}", f"{NEW_USER_PREFIX}{uuid.uuid4().hex[:10]}"


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class DemoCatalog:
    items: dict[str, ItemInfo]
    images_dir: Path | None
    dataset_dir: Path | None

    @classmethod
    def load(cls, catalog: Path) -> DemoCatalog:
        """`catalog`: a canonical dataset folder or its items.parquet (no visitors, no images then)."""
        import pyarrow.parquet as pq

        dataset = catalog if catalog.is_dir() else None
        table = pq.read_table(catalog / s.ITEMS_FILE if dataset else catalog)
        images = dataset / s.IMAGES_DIR if dataset and (dataset / s.IMAGES_DIR).is_dir() else None
        have = set(table.column_names)
        items: dict[str, ItemInfo] = {}
        for row in table.to_pylist():
            item = str(row[s.ITEM_ID])
            price = row.get(s.PRICE)
            image = _text(row.get("image")) if "image" in have else None
            if image is None and images is not None and (images / f"{item}{IMAGE_SUFFIX}").is_file():
                image = f"/v1/items/{item}/image"
            items[item] = ItemInfo(
                item_id=item,
                name=_text(row.get(s.NAME)),
                category_l1=str(row[s.CATEGORY_L1]),
                category_l2=str(row[s.CATEGORY_L2]),
                price=float(price) if price is not None and math.isfinite(price) else None,
                image=image,
            )
        return cls(items, images, dataset)

    def image_path(self, item_id: str) -> Path | None:
        """The generated picture of a catalog item, if the dataset has one."""
        if self.images_dir is None or item_id not in self.items:
            return None
        path = self.images_dir / f"{item_id}{IMAGE_SUFFIX}"
        return path if path.is_file() else None

    def top_users(self, n: int) -> list[RegisteredVisitor]:
        """The `n` signed-in users with the most clicked interactions (none without interactions)."""
        if self.dataset_dir is None or not (self.dataset_dir / s.INTERACTIONS_DIR).is_dir():
            return []
        import pyarrow as pa
        import pyarrow.compute as pc

        from recsys_workloads.data.ingest import open_interactions

        table = open_interactions(self.dataset_dir).to_table(
            columns=[s.USER_ID, s.ITEM_ID], filter=pc.field(s.CLICKED) & pc.field(s.USER_ID).is_valid()
        )
        users = pc.cast(table[s.USER_ID], pa.string())
        counts = pa.table({s.USER_ID: users}).group_by(s.USER_ID).aggregate([([], "count_all")])
        order = pc.sort_indices(counts, sort_keys=[("count_all", "descending"), (s.USER_ID, "ascending")])
        best = counts.take(order[:n]).to_pylist()
        items = pc.cast(table[s.ITEM_ID], pa.string())
        out = []
        for row in best:
            user = str(row[s.USER_ID])
            mine = items.filter(pc.equal(users, user)).to_pylist()
            cats = Counter(self.items[i].category_l1 for i in mine if i in self.items)
            out.append(
                RegisteredVisitor(
                    user_id=user,
                    interactions=int(row["count_all"]),
                    top_category=cats.most_common(1)[0][0] if cats else None,
                )
            )
        return out
