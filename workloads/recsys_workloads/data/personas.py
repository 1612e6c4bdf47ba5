"""Who the shoppers are and how context bends what they look at.

Constants follow the Retail Demo Store generator (personas, 0.6/0.25/0.15 category
weights, discount personas, the View → Purchase funnel); the device and hour/weekday
tables are this project's additions, chosen so each effect is large enough to learn.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from recsys_workloads.data.schema import DEVICE_TYPES, EventType

# The 16 web personas of the RDS users file: three categories, strongest first.
PERSONAS: Final[tuple[str, ...]] = (
    "apparel_footwear_accessories",
    "housewares_floral_seasonal",
    "books_apparel_homedecor",
    "groceries_seasonal_tools",
    "outdoors_instruments_groceries",
    "instruments_books_electronics",
    "floral_beauty_jewelry",
    "furniture_homedecor_housewares",
    "beauty_accessories_instruments",
    "accessories_groceries_books",
    "footwear_jewelry_furniture",
    "electronics_outdoors_footwear",
    "housewares_tools_beauty",
    "homedecor_electronics_outdoors",
    "seasonal_furniture_floral",
    "tools_housewares_apparel",
)
PERSONA_CATEGORY_WEIGHTS: Final = np.array([0.6, 0.25, 0.15])

DISCOUNT_PERSONAS: Final[tuple[str, ...]] = ("discount_indifferent", "all_discounts", "lower_priced_products")
# P(DISCOUNT = True) per discount persona (RDS: 0.5 when the persona likes discounts, else 0.2).
DISCOUNT_PROBABILITY: Final = np.array([0.2, 0.5, 0.2])
# Price elasticity inside a category: lower_priced_products shoppers pick cheaper items.
DISCOUNT_PERSONA_PRICE_EXPONENT: Final = np.array([0.0, 0.0, -1.2])

# Funnel: probability per View that the view reaches each step (RDS: 8 %, 5 %, 2 %, 1 %).
FUNNEL: Final[tuple[tuple[EventType, float], ...]] = (
    (EventType.ADD_TO_CART, 0.08),
    (EventType.VIEW_CART, 0.05),
    (EventType.START_CHECKOUT, 0.02),
    (EventType.PURCHASE, 0.01),
)
# Share of views inside the persona's first category that go to the user's 4-item clique.
CLIQUE_SIZE: Final = 4
CLIQUE_SHARE: Final = 0.25
# Share of views in a session that keep the session's category (the rest redraw).
SESSION_CATEGORY_STICKINESS: Final = 0.6

# --- devices ---------------------------------------------------------------------------
DEVICE_POPULATION: Final = np.array([0.45, 0.30, 0.25])  # web, ios, android
PREFERRED_DEVICE_LOYALTY: Final = 0.75
# Mobile shoppers pick cheaper items, desktop shoppers dearer ones.
DEVICE_PRICE_EXPONENT: Final = np.array([0.25, -0.2, -0.45])


def _hour_curve(peaks: list[tuple[float, float, float]], floor: float) -> npt.NDArray[np.float64]:
    hours = np.arange(24, dtype=np.float64)
    curve = np.full(24, floor)
    for centre, width, height in peaks:
        distance = np.minimum(np.abs(hours - centre), 24 - np.abs(hours - centre))
        curve += height * np.exp(-0.5 * (distance / width) ** 2)
    normalised: npt.NDArray[np.float64] = curve / curve.sum()
    return normalised


# P(hour | device, weekend): desktop in office hours, phones at lunch and late evening;
# weekends start later and flatten.
HOUR_PROBABILITIES: Final = np.stack(
    [
        np.stack(
            [
                _hour_curve([(11.0, 3.0, 1.0), (15.0, 2.5, 0.8), (20.0, 2.0, 0.4)], 0.02),
                _hour_curve([(12.5, 1.5, 0.5), (21.0, 2.0, 1.0), (8.0, 1.0, 0.3)], 0.02),
                _hour_curve([(12.5, 1.5, 0.5), (21.5, 2.0, 1.0), (8.0, 1.0, 0.3)], 0.02),
            ]
        ),
        np.stack(
            [
                _hour_curve([(14.0, 4.0, 1.0), (20.0, 2.0, 0.5)], 0.02),
                _hour_curve([(11.0, 2.5, 0.6), (21.0, 2.5, 1.0)], 0.03),
                _hour_curve([(11.0, 2.5, 0.6), (22.0, 2.5, 1.0)], 0.03),
            ]
        ),
    ]
)
# Relative traffic Monday..Sunday.
WEEKDAY_TRAFFIC: Final = np.array([0.95, 0.92, 0.95, 1.0, 1.05, 1.25, 1.2])

# Category multipliers by context, applied to the persona weights then renormalised.
DAYPARTS: Final = ("night", "morning", "afternoon", "evening")  # 0-5, 6-11, 12-17, 18-23
CATEGORY_DAYPART_BOOST: Final[dict[str, tuple[float, float, float, float]]] = {
    "groceries": (0.6, 2.0, 1.0, 0.8),
    "electronics": (1.2, 0.6, 0.9, 1.8),
    "instruments": (1.0, 0.6, 0.9, 1.7),
    "books": (1.6, 0.8, 0.9, 1.4),
    "beauty": (0.8, 1.6, 1.0, 0.9),
    "housewares": (0.8, 1.4, 1.1, 0.9),
}
CATEGORY_WEEKEND_BOOST: Final[dict[str, float]] = {
    "furniture": 2.0,
    "homedecor": 1.7,
    "outdoors": 1.8,
    "tools": 1.8,
    "seasonal": 1.4,
    "floral": 1.4,
}
CATEGORY_MOBILE_BOOST: Final[dict[str, float]] = {
    "apparel": 1.6,
    "footwear": 1.5,
    "accessories": 1.5,
    "jewelry": 1.4,
    "beauty": 1.4,
    "furniture": 0.6,
    "electronics": 0.8,
}


def daypart(hour: npt.ArrayLike) -> npt.NDArray[np.int64]:
    return np.asarray(hour, dtype=np.int64) // 6


def is_weekend(weekday: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    return np.asarray(weekday, dtype=np.int64) >= 5


def category_context_table(categories: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """Multiplier of each category in each context, shape (categories, 4 dayparts, 2 weekend, 3 devices)."""
    table = np.ones((len(categories), len(DAYPARTS), 2, len(DEVICE_TYPES)))
    for c, name in enumerate(categories):
        table[c] *= np.asarray(CATEGORY_DAYPART_BOOST.get(name, (1.0,) * 4))[:, None, None]
        table[c, :, 1, :] *= CATEGORY_WEEKEND_BOOST.get(name, 1.0)
        table[c, :, :, 1:] *= CATEGORY_MOBILE_BOOST.get(name, 1.0)
    return table


def persona_category_indices(categories: tuple[str, ...]) -> npt.NDArray[np.int64]:
    """Catalog category index of each persona's three categories, shape (personas, 3)."""
    index = {name: i for i, name in enumerate(categories)}
    missing = sorted({c for p in PERSONAS for c in p.split("_")} - index.keys())
    if missing:
        raise ValueError(f"catalog lacks persona categories: {', '.join(missing)}")
    return np.array([[index[c] for c in p.split("_")] for p in PERSONAS], dtype=np.int64)


def category_probabilities(
    persona_categories: npt.NDArray[np.int64],
    context_table: npt.NDArray[np.float64],
    hour: npt.ArrayLike,
    weekday: npt.ArrayLike,
    device: npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """P(k-th persona category | context) for rows of persona categories, shape (n, 3).

    Pure and vectorised: the generator draws categories with it and the ground truth
    scores with it, so the two cannot drift apart.
    """
    part = daypart(hour)
    weekend = is_weekend(weekday).astype(np.int64)
    dev = np.asarray(device, dtype=np.int64)
    boost = context_table[persona_categories, part[..., None], weekend[..., None], dev[..., None]]
    weights = PERSONA_CATEGORY_WEIGHTS * boost
    return np.asarray(weights / weights.sum(axis=-1, keepdims=True), dtype=np.float64)
