"""What the generator knows and a model cannot see: personas, cliques and true affinities.

The generator samples every View from `true_affinity`'s building blocks
(`category_probabilities`, `stratum_weights`), so an oracle that ranks by
`true_affinity` is the best any recommender can do on this data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from recsys_workloads.data import personas
from recsys_workloads.data import schema as s
from recsys_workloads.data.catalog import Catalog

GROUND_TRUTH_VERSION: Final = 1
GENDER_CODES: Final = ("M", "F", "Any")
VISITORS_FILE: Final = "visitors.parquet"
TRUTH_ITEMS_FILE: Final = "items.parquet"
MODEL_FILE: Final = "model.json"
# Items shown for the first time get extra attention for this many days (cold start).
FRESH_DAYS: Final = 3
FRESH_BOOST: Final = 2.0
POPULARITY_SIGMA: Final = 1.0

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ItemTruth:
    item_ids: npt.NDArray[np.str_]
    categories: tuple[str, ...]  # category vocabulary, index = category code
    category: IntArray
    gender: npt.NDArray[np.int8]  # index into GENDER_CODES
    price: FloatArray
    price_rel: FloatArray  # price / median price of its category
    popularity: FloatArray
    first_day: npt.NDArray[np.int16]


@dataclass(frozen=True)
class VisitorTruth:
    """Known users first, then anonymous visitors; row = visitor code everywhere."""

    visitor_ids: npt.NDArray[np.str_]  # user_id, or anonymous_id for anonymous visitors
    anonymous: npt.NDArray[np.bool_]
    persona: IntArray
    gender: npt.NDArray[np.int8]  # 0 M, 1 F
    age: npt.NDArray[np.int16]
    discount_persona: IntArray
    preferred_device: IntArray
    activity: FloatArray
    first_day: npt.NDArray[np.int16]
    clique: IntArray  # (visitors, CLIQUE_SIZE) item codes in the persona's first category


@dataclass(frozen=True)
class GroundTruth:
    items: ItemTruth
    visitors: VisitorTruth
    persona_categories: IntArray  # (personas, 3) category codes
    context_table: FloatArray  # see personas.category_context_table
    start_weekday: int


def item_truth(catalog: Catalog, rng: np.random.Generator) -> ItemTruth:
    categories = catalog.category_names
    code = {c: i for i, c in enumerate(categories)}
    category = np.array([code[c] for c in catalog.categories], dtype=np.int64)
    medians = np.array([np.median(catalog.prices[category == c]) for c in range(len(categories))])
    return ItemTruth(
        item_ids=np.array(catalog.item_ids),
        categories=categories,
        category=category,
        gender=np.array([GENDER_CODES.index(g) for g in catalog.genders], dtype=np.int8),
        price=catalog.prices,
        price_rel=np.clip(catalog.prices / medians[category], 0.05, 20.0),
        popularity=np.exp(rng.normal(0.0, POPULARITY_SIGMA, len(catalog))),
        first_day=catalog.first_day,
    )


def stratum_weights(
    items: ItemTruth, category: int, gender: int, price_exponent: float, day: int
) -> FloatArray:
    """P(item | category, visitor gender, price taste, day) over all items (sums to 1).

    Opposite-gender items are excluded as in the RDS generator; items not yet released
    are excluded; just-released items get a boost. Falls back to every available item
    when the category has none for this visitor (tiny catalogs).
    """
    available = items.first_day <= day
    fresh = np.where((day - items.first_day < FRESH_DAYS) & (items.first_day > 0), FRESH_BOOST, 1.0)
    gender_ok = (items.gender == 2) | (items.gender == gender)
    base = items.popularity * fresh * items.price_rel**price_exponent * available
    weights = base * gender_ok * (items.category == category)
    total = weights.sum()
    if total <= 0:
        weights, total = base, base.sum()
    return np.asarray(weights / total, dtype=np.float64)


def price_exponent(discount_persona: npt.ArrayLike, device: npt.ArrayLike) -> FloatArray:
    return np.asarray(
        personas.DISCOUNT_PERSONA_PRICE_EXPONENT[np.asarray(discount_persona)]
        + personas.DEVICE_PRICE_EXPONENT[np.asarray(device)],
        dtype=np.float64,
    )


def true_affinity(
    truth: GroundTruth,
    visitors: npt.ArrayLike,
    *,
    hour: npt.ArrayLike,
    weekday: npt.ArrayLike,
    device: npt.ArrayLike,
    day: int,
) -> FloatArray:
    """P(next View = item | visitor, context), shape (len(visitors), items); rows sum to 1.

    `hour` (0-23, UTC), `weekday` (0 = Monday) and `device` (index into DEVICE_TYPES)
    broadcast against `visitors` (visitor codes: row numbers of the visitors table).
    """
    rows = np.atleast_1d(np.asarray(visitors, dtype=np.int64))
    v = truth.visitors
    hour_a, weekday_a, device_a = (
        np.broadcast_to(np.asarray(x), rows.shape) for x in (hour, weekday, device)
    )
    cats = truth.persona_categories[v.persona[rows]]
    probs_k = personas.category_probabilities(cats, truth.context_table, hour_a, weekday_a, device_a)
    out = np.zeros((len(rows), len(truth.items.item_ids)))
    cache: dict[tuple[int, int, int, int], FloatArray] = {}
    for r, visitor in enumerate(rows):
        dp, dev, gender = int(v.discount_persona[visitor]), int(device_a[r]), int(v.gender[visitor])
        for k in range(3):
            key = (int(cats[r, k]), gender, dp, dev)
            if key not in cache:
                cache[key] = stratum_weights(truth.items, key[0], gender, float(price_exponent(dp, dev)), day)
            share = probs_k[r, k] * (1.0 - personas.CLIQUE_SHARE if k == 0 else 1.0)
            out[r] += share * cache[key]
        np.add.at(out[r], v.clique[visitor], probs_k[r, 0] * personas.CLIQUE_SHARE / personas.CLIQUE_SIZE)
    return out


def _truncated_normal_ages(rng: np.random.Generator, n: int) -> npt.NDArray[np.int16]:
    ages = rng.normal(32.0, 15.0, n)
    bad = (ages < 18) | (ages > 100)
    while bad.any():  # a few rounds: ~12 % fall outside
        ages[bad] = rng.normal(32.0, 15.0, int(bad.sum()))
        bad = (ages < 18) | (ages > 100)
    return ages.astype(np.int16)


def _cliques(
    rng: np.random.Generator,
    items: ItemTruth,
    persona_categories: IntArray,
    persona: IntArray,
    gender: IntArray,
) -> IntArray:
    """Four distinct items per visitor, popular ones likelier (Gumbel top-k per group)."""
    clique = np.zeros((len(persona), personas.CLIQUE_SIZE), dtype=np.int64)
    first = persona_categories[persona, 0]
    for category in np.unique(first):
        for g in (0, 1):
            members = np.flatnonzero((first == category) & (gender == g))
            if len(members) == 0:
                continue
            w = stratum_weights(items, int(category), g, 0.0, 0)
            candidates = np.flatnonzero(w > 0)
            logw = np.log(w[candidates])
            for start in range(0, len(members), 20_000):
                chunk = members[start : start + 20_000]
                scores = logw + rng.gumbel(size=(len(chunk), len(candidates)))
                k = min(personas.CLIQUE_SIZE, len(candidates))
                top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                picked = candidates[top]
                clique[chunk] = np.pad(picked, ((0, 0), (0, personas.CLIQUE_SIZE - k)), mode="edge")
    return clique


def sample_visitors(
    rng: np.random.Generator,
    items: ItemTruth,
    persona_categories: IntArray,
    *,
    n_users: int,
    n_anonymous: int,
    days: int,
    new_user_share: float,
) -> VisitorTruth:
    n = n_users + n_anonymous
    anonymous = np.arange(n) >= n_users
    persona = rng.integers(0, len(personas.PERSONAS), n)
    gender = rng.integers(0, 2, n).astype(np.int8)
    arriving = rng.random(n) < (np.where(anonymous, 0.5, new_user_share) if days > 1 else 0.0)
    first_day = np.where(arriving, rng.integers(1, max(days, 2), n), 0).astype(np.int16)
    ids = np.concatenate(
        [
            np.char.mod("%d", np.arange(1, n_users + 1)),
            np.char.add(s.ANONYMOUS_PREFIX, np.char.mod("%d", np.arange(1, n_anonymous + 1))),
        ]
    ).astype(str)
    return VisitorTruth(
        visitor_ids=ids,
        anonymous=anonymous,
        persona=persona,
        gender=gender,
        age=_truncated_normal_ages(rng, n),
        discount_persona=rng.integers(0, len(personas.DISCOUNT_PERSONAS), n),
        preferred_device=rng.choice(len(s.DEVICE_TYPES), n, p=personas.DEVICE_POPULATION),
        activity=np.where(anonymous, 0.5, 1.0) * rng.lognormal(0.0, 1.0, n),
        first_day=first_day,
        clique=_cliques(rng, items, persona_categories, persona, gender.astype(np.int64)),
    )


# --- persistence ---------------------------------------------------------------------------
def _flat(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """pyarrow chunks big numpy string arrays; nested constructors need one array."""
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def write_ground_truth(truth: GroundTruth, directory: Path, config: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    v, it = truth.visitors, truth.items
    clique_ids = it.item_ids[v.clique]
    visitors = pa.table(
        {
            "visitor_id": pa.array(v.visitor_ids),
            "is_anonymous": pa.array(v.anonymous),
            s.PERSONA: pa.array(np.array(personas.PERSONAS)[v.persona]),
            s.DISCOUNT_PERSONA: pa.array(np.array(personas.DISCOUNT_PERSONAS)[v.discount_persona]),
            s.GENDER: pa.array(np.array(["M", "F"])[v.gender]),
            s.AGE: pa.array(v.age),
            "preferred_device": pa.array(np.array(s.DEVICE_TYPES)[v.preferred_device]),
            "activity": pa.array(v.activity),
            s.FIRST_DAY: pa.array(v.first_day),
            "clique": pa.FixedSizeListArray.from_arrays(
                _flat(pa.array(clique_ids.reshape(-1), pa.string())), personas.CLIQUE_SIZE
            ),
        }
    )
    items = pa.table(
        {
            s.ITEM_ID: pa.array(it.item_ids),
            s.CATEGORY_L1: pa.array(np.array(it.categories)[it.category]),
            s.ITEM_GENDER: pa.array(np.array(GENDER_CODES)[it.gender]),
            s.PRICE: pa.array(it.price),
            "price_rel": pa.array(it.price_rel),
            "popularity": pa.array(it.popularity),
            s.FIRST_DAY: pa.array(it.first_day),
        }
    )
    pq.write_table(visitors, directory / VISITORS_FILE)
    pq.write_table(items, directory / TRUTH_ITEMS_FILE)
    model = {
        "version": GROUND_TRUTH_VERSION,
        "config": config,
        "start_weekday": truth.start_weekday,
        "categories": list(it.categories),
        "personas": {p: list(p.split("_")) for p in personas.PERSONAS},
        "persona_category_weights": personas.PERSONA_CATEGORY_WEIGHTS.tolist(),
        "clique_share": personas.CLIQUE_SHARE,
        "session_category_stickiness": personas.SESSION_CATEGORY_STICKINESS,
        "funnel": {e.value: rate for e, rate in personas.FUNNEL},
        "discount_probability": dict(
            zip(personas.DISCOUNT_PERSONAS, personas.DISCOUNT_PROBABILITY.tolist(), strict=True)
        ),
        "discount_persona_price_exponent": dict(
            zip(personas.DISCOUNT_PERSONAS, personas.DISCOUNT_PERSONA_PRICE_EXPONENT.tolist(), strict=True)
        ),
        "device_price_exponent": dict(
            zip(s.DEVICE_TYPES, personas.DEVICE_PRICE_EXPONENT.tolist(), strict=True)
        ),
        "category_daypart_boost": personas.CATEGORY_DAYPART_BOOST,
        "category_weekend_boost": personas.CATEGORY_WEEKEND_BOOST,
        "category_mobile_boost": personas.CATEGORY_MOBILE_BOOST,
        "fresh_days": FRESH_DAYS,
        "fresh_boost": FRESH_BOOST,
    }
    (directory / MODEL_FILE).write_text(json.dumps(model, indent=2, sort_keys=True, default=str) + "\n")


def load_ground_truth(directory: Path) -> GroundTruth:
    """Rebuild the in-memory ground truth from a generated dataset's `ground_truth/` folder."""
    model = json.loads((directory / MODEL_FILE).read_text())
    if model.get("version") != GROUND_TRUTH_VERSION:
        raise ValueError(
            f"{directory / MODEL_FILE}: ground truth version {model.get('version')} is not supported"
        )
    categories = tuple(model["categories"])
    vt = pq.read_table(directory / VISITORS_FILE)
    itab = pq.read_table(directory / TRUTH_ITEMS_FILE)
    item_ids = np.array(itab[s.ITEM_ID].to_pylist())
    code = {item: i for i, item in enumerate(item_ids.tolist())}
    cat_code = {c: i for i, c in enumerate(categories)}
    items = ItemTruth(
        item_ids=item_ids,
        categories=categories,
        category=np.array([cat_code[c] for c in itab[s.CATEGORY_L1].to_pylist()], dtype=np.int64),
        gender=np.array([GENDER_CODES.index(g) for g in itab[s.ITEM_GENDER].to_pylist()], dtype=np.int8),
        price=itab[s.PRICE].to_numpy(),
        price_rel=itab["price_rel"].to_numpy(),
        popularity=itab["popularity"].to_numpy(),
        first_day=itab[s.FIRST_DAY].to_numpy().astype(np.int16),
    )
    clique_flat = vt["clique"].combine_chunks().flatten().to_pylist()
    visitors = VisitorTruth(
        visitor_ids=np.array(vt["visitor_id"].to_pylist()),
        anonymous=vt["is_anonymous"].to_numpy(),
        persona=np.array([personas.PERSONAS.index(p) for p in vt[s.PERSONA].to_pylist()], dtype=np.int64),
        gender=np.array([("M", "F").index(g) for g in vt[s.GENDER].to_pylist()], dtype=np.int8),
        age=vt[s.AGE].to_numpy().astype(np.int16),
        discount_persona=np.array(
            [personas.DISCOUNT_PERSONAS.index(d) for d in vt[s.DISCOUNT_PERSONA].to_pylist()], dtype=np.int64
        ),
        preferred_device=np.array(
            [s.DEVICE_TYPES.index(d) for d in vt["preferred_device"].to_pylist()], dtype=np.int64
        ),
        activity=vt["activity"].to_numpy(),
        first_day=vt[s.FIRST_DAY].to_numpy().astype(np.int16),
        clique=np.array([code[i] for i in clique_flat], dtype=np.int64).reshape(-1, personas.CLIQUE_SIZE),
    )
    return GroundTruth(
        items=items,
        visitors=visitors,
        persona_categories=personas.persona_category_indices(categories),
        context_table=personas.category_context_table(categories),
        start_weekday=int(model["start_weekday"]),
    )
