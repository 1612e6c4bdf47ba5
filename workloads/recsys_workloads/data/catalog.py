"""The product catalog: a synthetic one shaped like the RDS catalog, or the real RDS one.

Names, descriptions and images are built from category, style and colour so that text
and image embeddings carry the same signal the interactions do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import yaml
from pydantic import ValidationError

from recsys_workloads.data import schema as s
from recsys_workloads.data.errors import DataValidationError

# Category → style → count in the RDS catalog (the 16 persona categories, 2,446 products).
RDS_STYLE_COUNTS: Final[dict[str, dict[str, int]]] = {
    "accessories": {"backpack": 48, "bag": 21, "belt": 38, "glasses": 59, "handbag": 38, "watch": 24},
    "apparel": {"jacket": 81, "scarf": 53, "shirt": 67, "socks": 30},
    "beauty": {"bathing": 19, "grooming": 41},
    "books": {"cooking": 15, "travel": 20},
    "electronics": {
        "cable": 12,
        "camera": 36,
        "computer": 6,
        "headphones": 16,
        "keyboard": 4,
        "speaker": 21,
        "television": 9,
    },
    "floral": {"arrangement": 36, "bouquet": 24, "centerpiece": 9, "plant": 42, "wreath": 16},
    "footwear": {"boot": 30, "formal": 79, "sandals": 31, "sneaker": 48},
    "furniture": {"chairs": 72, "dressers": 32, "sofas": 49, "tables": 92},
    "groceries": {"bakery": 54, "dairy": 21, "fruits": 27, "meat": 31, "seafood": 21, "vegetables": 41},
    "homedecor": {"clock": 29, "cushion": 46, "decorative": 65, "lighting": 53},
    "housewares": {"bowls": 54, "kitchen": 160},
    "instruments": {"keys": 33, "microphone": 18, "percussion": 40, "strings": 61, "wind": 15},
    "jewelry": {"bracelet": 37, "earrings": 23, "necklace": 30},
    "outdoors": {"camping": 25, "fishing": 37, "kayaking": 12, "pet": 18},
    "seasonal": {"christmas": 92, "easter": 42, "halloween": 46, "valentine": 37},
    "tools": {
        "axe": 2,
        "drill": 6,
        "hammer": 7,
        "knife": 3,
        "plier": 7,
        "saw": 13,
        "screwdriver": 3,
        "set": 8,
    },
}
CATEGORIES: Final[tuple[str, ...]] = tuple(sorted(RDS_STYLE_COUNTS))
# Categories whose RDS products carry a gender affinity, and the RDS shares of F and M.
GENDERED_CATEGORIES: Final = frozenset({"apparel", "footwear", "beauty", "jewelry", "accessories"})
GENDER_SHARES: Final = (0.43, 0.32)
# Median price per category (USD) and spread of the log-normal around it.
CATEGORY_MEDIAN_PRICE: Final[dict[str, float]] = {
    "accessories": 60,
    "apparel": 55,
    "beauty": 25,
    "books": 20,
    "electronics": 250,
    "floral": 45,
    "footwear": 90,
    "furniture": 450,
    "groceries": 6,
    "homedecor": 70,
    "housewares": 35,
    "instruments": 300,
    "jewelry": 120,
    "outdoors": 110,
    "seasonal": 25,
    "tools": 40,
}
PRICE_SIGMA: Final = 0.6

COLOURS: Final[dict[str, tuple[int, int, int]]] = {
    "black": (25, 25, 25),
    "white": (235, 235, 235),
    "red": (210, 40, 40),
    "blue": (40, 80, 210),
    "green": (40, 160, 60),
    "yellow": (240, 210, 40),
    "orange": (240, 140, 30),
    "purple": (130, 50, 170),
    "pink": (240, 130, 180),
    "brown": (120, 75, 40),
    "grey": (128, 128, 128),
    "beige": (215, 195, 160),
    "navy": (20, 30, 90),
    "teal": (30, 140, 140),
    "gold": (205, 165, 50),
    "silver": (190, 190, 200),
}
ADJECTIVES: Final = (
    "Classic", "Modern", "Rustic", "Elegant", "Compact", "Premium", "Everyday", "Vintage",
    "Sleek", "Cozy", "Bold", "Handcrafted", "Lightweight", "Deluxe", "Minimalist", "Sturdy",
)  # fmt: skip
CATEGORY_USES: Final[dict[str, tuple[str, ...]]] = {
    "accessories": ("daily commutes", "weekend trips", "evenings out"),
    "apparel": ("cool mornings", "casual weekends", "the office"),
    "beauty": ("a relaxing routine", "daily care", "a spa evening"),
    "books": ("curious readers", "planning the next adventure", "a rainy afternoon"),
    "electronics": ("home entertainment", "work from home", "content creators"),
    "floral": ("brightening a room", "special occasions", "a thoughtful gift"),
    "footwear": ("long walks", "formal events", "everyday comfort"),
    "furniture": ("the living room", "small apartments", "family dinners"),
    "groceries": ("a healthy breakfast", "family meals", "quick snacks"),
    "homedecor": ("a warm living room", "the bedroom", "entryways"),
    "housewares": ("busy kitchens", "weekend baking", "serving guests"),
    "instruments": ("beginners", "studio sessions", "live performance"),
    "jewelry": ("evening wear", "everyday elegance", "anniversaries"),
    "outdoors": ("weekend camping", "lakeside days", "adventurous pets"),
    "seasonal": ("festive decorating", "holiday gatherings", "seasonal gifts"),
    "tools": ("home repairs", "the workshop", "weekend projects"),
}


@dataclass(frozen=True)
class Catalog:
    """Column arrays of the catalog; row i is item i everywhere in the data plane."""

    item_ids: tuple[str, ...]
    names: tuple[str, ...]
    categories: tuple[str, ...]
    styles: tuple[str, ...]
    prices: npt.NDArray[np.float64]
    genders: tuple[str, ...]  # M, F or Any
    promoted: npt.NDArray[np.bool_]
    first_day: npt.NDArray[np.int16]
    colours: tuple[str, ...]
    descriptions: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def category_names(self) -> tuple[str, ...]:
        """Distinct categories in a stable order (sorted)."""
        return tuple(sorted(set(self.categories)))

    def items_table(self) -> pa.Table:
        return pa.table(
            {
                s.ITEM_ID: pa.array(self.item_ids, pa.string()),
                s.NAME: pa.array(self.names, pa.string()),
                s.CATEGORY_L1: pa.array(self.categories, pa.string()),
                s.CATEGORY_L2: pa.array(self.styles, pa.string()),
                s.PRICE: pa.array(self.prices, pa.float64()),
                s.ITEM_GENDER: pa.array(self.genders, pa.string()),
                s.PROMOTED: pa.array(self.promoted, pa.bool_()),
                s.FIRST_DAY: pa.array(self.first_day, pa.int16()),
            },
            schema=s.ITEMS_SCHEMA,
        )

    def descriptions_table(self) -> pa.Table:
        return pa.table(
            {s.ITEM_ID: pa.array(self.item_ids), s.PRODUCT_DESCRIPTION: pa.array(self.descriptions)},
            schema=s.DESCRIPTIONS_SCHEMA,
        )

    def with_first_days(self, first_day: npt.NDArray[np.int16]) -> Catalog:
        return replace(self, first_day=first_day.astype(np.int16))


def _allocate(counts: npt.NDArray[np.float64], total: int) -> npt.NDArray[np.int64]:
    """Largest-remainder apportionment of `total` over `counts`, at least one each when possible."""
    quota = counts / counts.sum() * total
    alloc: npt.NDArray[np.int64] = np.floor(quota).astype(np.int64)
    if total >= len(counts):
        alloc = np.maximum(alloc, 1)
    while alloc.sum() > total:
        alloc[np.argmax(alloc)] -= 1
    order = np.argsort(-(quota - alloc), kind="stable")
    alloc[order[: total - alloc.sum()]] += 1
    return alloc


def synthetic_catalog(n_items: int, seed: int) -> Catalog:
    """An RDS-shaped catalog: same categories, style mix, price ranges and gender shares."""
    rng = np.random.default_rng([seed, 1])
    # Categories first (every category gets items, even in tiny catalogs), then styles.
    per_category = _allocate(
        np.array([sum(RDS_STYLE_COUNTS[c].values()) for c in CATEGORIES], float), n_items
    )
    pairs = [(c, st, n) for c in CATEGORIES for st, n in RDS_STYLE_COUNTS[c].items()]
    per_pair = np.concatenate(
        [
            _allocate(np.array(list(RDS_STYLE_COUNTS[c].values()), dtype=np.float64), int(k))
            for c, k in zip(CATEGORIES, per_category, strict=True)
        ]
    )
    categories = [c for (c, _, _), k in zip(pairs, per_pair, strict=True) for _ in range(k)]
    styles = [st for (_, st, _), k in zip(pairs, per_pair, strict=True) for _ in range(k)]
    n = len(categories)
    colour_names = list(COLOURS)
    colour_idx = rng.integers(0, len(colour_names), n)
    adjective_idx = rng.integers(0, len(ADJECTIVES), (n, 2))
    use_idx = rng.integers(0, 3, n)
    median = np.array([CATEGORY_MEDIAN_PRICE[c] for c in categories])
    raw_price = median * np.exp(rng.normal(0.0, PRICE_SIGMA, n))
    prices = np.maximum(np.floor(raw_price) + 0.99, 1.99)
    gender_draw = rng.random(n)
    gendered = np.array([c in GENDERED_CATEGORIES for c in categories])
    f_share, m_share = GENDER_SHARES
    genders = np.where(
        gendered & (gender_draw < f_share),
        "F",
        np.where(gendered & (gender_draw < f_share + m_share), "M", "Any"),
    )
    promoted = rng.random(n) < 0.25
    item_ids = tuple(str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n))
    names: list[str] = []
    descriptions: list[str] = []
    for i in range(n):  # 2,465 rows of string formatting: not worth vectorising
        colour = colour_names[colour_idx[i]]
        adjective, adjective2 = ADJECTIVES[adjective_idx[i, 0]], ADJECTIVES[adjective_idx[i, 1]].lower()
        names.append(f"{adjective} {colour.title()} {styles[i].title()}")
        use = CATEGORY_USES[categories[i]][use_idx[i]]
        who = {"F": " Designed for women.", "M": " Designed for men."}.get(str(genders[i]), "")
        descriptions.append(
            f"A {adjective2} {colour} {styles[i]} from our {categories[i]} collection, made for {use}.{who}"
        )
    return Catalog(
        item_ids=item_ids,
        names=tuple(names),
        categories=tuple(categories),
        styles=tuple(styles),
        prices=prices,
        genders=tuple(str(g) for g in genders),
        promoted=promoted,
        first_day=np.zeros(n, dtype=np.int16),
        colours=tuple(colour_names[i] for i in colour_idx),
        descriptions=tuple(descriptions),
    )


def colour_of(text: str, fallback_key: str) -> str:
    """The first colour word in a text, else a stable pick from the key (for drawing images)."""
    lowered = text.lower()
    best: tuple[int, str] | None = None
    for colour in COLOURS:
        at = lowered.find(colour)
        if at >= 0 and (best is None or at < best[0]):
            best = (at, colour)
    if best is not None:
        return best[1]
    names = list(COLOURS)
    return names[int(uuid.uuid5(uuid.NAMESPACE_OID, fallback_key).int % len(names))]


def load_rds_products(path: Path) -> list[s.RdsProduct]:
    """Parse and check RDS `products.yaml`; the first bad record raises with its row and field."""
    try:
        with path.open("rb") as fh:
            raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise DataValidationError(str(path), f"not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, list):
        raise DataValidationError(str(path), "expected a YAML list of products")
    products: list[s.RdsProduct] = []
    seen: dict[str, int] = {}
    for row, record in enumerate(raw, start=1):
        if not isinstance(record, dict):
            raise DataValidationError(str(path), "expected a mapping", row=row)
        try:
            product = s.RdsProduct.model_validate(record)
        except ValidationError as exc:
            err = exc.errors()[0]
            column = str(err["loc"][0]) if err["loc"] else None
            raise DataValidationError(str(path), err["msg"], row=row, column=column) from None
        if product.id in seen:
            raise DataValidationError(
                str(path),
                f"duplicate id {product.id!r} (first at row {seen[product.id]})",
                row=row,
                column="id",
            )
        seen[product.id] = row
        products.append(product)
    if not products:
        raise DataValidationError(str(path), "no products")
    return products


def rds_catalog(path: Path) -> Catalog:
    """The real RDS catalog, with colours read from the text for the drawn images."""
    products = load_rds_products(path)
    return Catalog(
        item_ids=tuple(p.id for p in products),
        names=tuple(p.name for p in products),
        categories=tuple(p.category for p in products),
        styles=tuple(p.style for p in products),
        prices=np.array([p.price for p in products], dtype=np.float64),
        genders=tuple(p.gender_affinity or "Any" for p in products),
        promoted=np.array([p.promoted for p in products], dtype=np.bool_),
        first_day=np.zeros(len(products), dtype=np.int16),
        colours=tuple(colour_of(f"{p.name} {p.description}", p.id) for p in products),
        descriptions=tuple(p.description for p in products),
    )
