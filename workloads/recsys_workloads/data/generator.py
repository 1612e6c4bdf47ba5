"""A synthetic shop that behaves like the seed's modified Retail Demo Store generator.

Streams one day at a time with vectorised NumPy: sessions are drawn per visitor, views
per session, items per (category, gender, discount persona, device) stratum, then the
funnel and the un-clicked impressions. Every random draw comes from a seed-derived
generator, so the same config gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from recsys_workloads.data import personas
from recsys_workloads.data import schema as s
from recsys_workloads.data.catalog import Catalog, rds_catalog, synthetic_catalog
from recsys_workloads.data.ground_truth import (
    GroundTruth,
    _flat,
    item_truth,
    price_exponent,
    sample_visitors,
    stratum_weights,
    write_ground_truth,
)
from recsys_workloads.data.images import write_images

IntArray = npt.NDArray[np.int64]
EVENT_CODE = {e: i for i, e in enumerate(s.EVENT_TYPES)}
IMPRESSION_CODE = EVENT_CODE[s.EventType.IMPRESSION.value]


class GeneratorConfig(BaseModel):
    """Knobs of the synthetic shop; the defaults are the small demo shop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int = Field(20_000, ge=1, description="registered users (some sign up during the period)")
    items: int = Field(2_465, ge=20, description="catalog size (ignored with `catalog`)")
    days: int = Field(14, ge=1, le=99)
    interactions: int = Field(
        1_000_000, ge=1, description="View/AddToCart/.../Purchase rows, impressions excluded"
    )
    seed: int = 0
    start_date: dt.date = dt.date(2026, 1, 5)  # a Monday; timestamps are UTC
    anonymous_share: float = Field(0.05, ge=0, lt=1, description="share of sessions by anonymous visitors")
    anonymous_visitors: float = Field(0.25, gt=0, description="anonymous visitor pool, relative to users")
    new_user_share: float = Field(0.25, ge=0, le=1, description="users who sign up after day 0")
    new_item_share: float = Field(0.05, ge=0, lt=1, description="items released after day 0 (cold start)")
    impressions_per_view: float = Field(
        2.0, ge=0, description="mean un-clicked impressions shown with a view"
    )
    mean_session_views: float = Field(5.0, ge=1)
    images: bool = True
    catalog: Path | None = Field(None, description="RDS products.yaml to use instead of a synthetic catalog")

    @classmethod
    def full_scale(cls, **overrides: Any) -> GeneratorConfig:
        """The seed's scale: 300k users, 2,465 items, 13M interactions over 14 days."""
        return cls(**{"users": 300_000, "items": 2_465, "days": 14, "interactions": 13_000_000, **overrides})


@dataclass(frozen=True)
class GenerationSummary:
    path: Path
    days: int
    users: int
    items: int
    interactions: int
    impressions: int
    images: int


def _rng(config: GeneratorConfig, *stream: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, *stream])


def _release_days(catalog: Catalog, config: GeneratorConfig) -> npt.NDArray[np.int16]:
    """Late items (cold start) appear on a day in the second half of the period."""
    rng = _rng(config, 2)
    first = np.zeros(len(catalog), dtype=np.int16)
    if config.days < 2:
        return first
    late = rng.random(len(catalog)) < config.new_item_share
    first[late] = rng.integers(max(1, config.days // 2), config.days, int(late.sum()))
    return first


def build_world(config: GeneratorConfig) -> tuple[Catalog, GroundTruth]:
    """Catalog and hidden truth (visitors, personas, cliques) before any event is drawn."""
    catalog = rds_catalog(config.catalog) if config.catalog else synthetic_catalog(config.items, config.seed)
    catalog = catalog.with_first_days(_release_days(catalog, config))
    items = item_truth(catalog, _rng(config, 3))
    persona_categories = personas.persona_category_indices(items.categories)
    visitors = sample_visitors(
        _rng(config, 4),
        items,
        persona_categories,
        n_users=config.users,
        n_anonymous=max(1, round(config.users * config.anonymous_visitors)),
        days=config.days,
        new_user_share=config.new_user_share,
    )
    truth = GroundTruth(
        items=items,
        visitors=visitors,
        persona_categories=persona_categories,
        context_table=personas.category_context_table(items.categories),
        start_weekday=config.start_date.weekday(),
    )
    return catalog, truth


def _draw_rows(rng: np.random.Generator, probs: npt.NDArray[np.float64]) -> IntArray:
    """One categorical draw per row of `probs` (rows sum to 1)."""
    u = rng.random(len(probs))[:, None]
    drawn: IntArray = np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1).astype(
        np.int64
    )
    return drawn


def _sample_from_cdf(rng: np.random.Generator, weights: npt.NDArray[np.float64], n: int) -> IntArray:
    cdf = np.cumsum(weights)
    drawn: IntArray = np.minimum(
        np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(weights) - 1
    )
    return drawn.astype(np.int64)


@dataclass
class DayEvents:
    """Column arrays of one day, in integer codes; `to_table` turns them into the file."""

    visitor: IntArray
    session: IntArray
    item: IntArray
    timestamp: IntArray
    device: IntArray
    event: IntArray
    discount: npt.NDArray[np.bool_]


def _views_per_day(config: GeneratorConfig, truth: GroundTruth) -> npt.NDArray[np.float64]:
    """Views per day: weekday traffic times the activity of visitors present that day."""
    views_total = config.interactions / (1.0 + sum(rate for _, rate in personas.FUNNEL))
    days = np.arange(config.days)
    weekday = (truth.start_weekday + days) % 7
    present = truth.visitors.first_day[None, :] <= days[:, None]
    activity = (present * truth.visitors.activity[None, :]).sum(axis=1)
    traffic = personas.WEEKDAY_TRAFFIC[weekday] * activity
    return np.asarray(views_total * traffic / traffic.sum(), dtype=np.float64)


def generate_day(
    config: GeneratorConfig, truth: GroundTruth, day: int, views_today: float, session_offset: int
) -> DayEvents:
    """All rows of one day; no Python loop runs per event (only per stratum and funnel step)."""
    rng = _rng(config, 100, day)
    v, items = truth.visitors, truth.items
    weekday = (truth.start_weekday + day) % 7
    weekend = int(weekday >= 5)
    day_start = (
        int(dt.datetime.combine(config.start_date, dt.time(), dt.UTC).timestamp()) + day * s.SECONDS_PER_DAY
    )

    # Sessions: who, on which device, at what hour.
    n_sessions = max(1, round(views_today / config.mean_session_views))
    n_anon_sessions = int(rng.binomial(n_sessions, config.anonymous_share))
    present = v.first_day <= day
    groups = []
    for is_anon, count in ((False, n_sessions - n_anon_sessions), (True, n_anon_sessions)):
        pool = np.flatnonzero(present & (v.anonymous == is_anon))
        if count and len(pool):
            groups.append(pool[_sample_from_cdf(rng, v.activity[pool], count)])
    sess_visitor = np.concatenate(groups) if groups else np.zeros(0, dtype=np.int64)
    n_sessions = len(sess_visitor)
    loyal = rng.random(n_sessions) < personas.PREFERRED_DEVICE_LOYALTY
    sess_device = np.where(loyal, v.preferred_device[sess_visitor], rng.integers(0, 3, n_sessions))
    sess_hour = _draw_rows(rng, personas.HOUR_PROBABILITIES[weekend][sess_device])
    sess_start = day_start + sess_hour * 3600 + rng.integers(0, 3600, n_sessions)
    sess_views = 1 + rng.poisson(config.mean_session_views - 1.0, n_sessions)
    sess_cats = truth.persona_categories[v.persona[sess_visitor]]
    sess_probs = personas.category_probabilities(
        sess_cats, truth.context_table, sess_hour, weekday, sess_device
    )
    sess_k = _draw_rows(rng, sess_probs)

    # Views: expand sessions, choose the persona category (sticky within a session).
    view_sess = np.repeat(np.arange(n_sessions), sess_views)
    n_views = len(view_sess)
    redraw = rng.random(n_views) >= personas.SESSION_CATEGORY_STICKINESS
    k = sess_k[view_sess].copy()
    k[redraw] = _draw_rows(rng, sess_probs[view_sess[redraw]])
    visitor = sess_visitor[view_sess]
    device = sess_device[view_sess]
    category = sess_cats[view_sess, k]
    gender = v.gender[visitor].astype(np.int64)
    dpersona = v.discount_persona[visitor]

    # Items: clique share of first-category views, else per stratum by inverse CDF.
    item = np.empty(n_views, dtype=np.int64)
    clique = (k == 0) & (rng.random(n_views) < personas.CLIQUE_SHARE)
    item[clique] = v.clique[visitor[clique], rng.integers(0, personas.CLIQUE_SIZE, int(clique.sum()))]
    rest = np.flatnonzero(~clique)
    stratum = (
        (category[rest] * 2 + gender[rest]) * len(personas.DISCOUNT_PERSONAS) + dpersona[rest]
    ) * 3 + device[rest]
    order = np.argsort(stratum, kind="stable")
    bounds = np.flatnonzero(np.diff(stratum[order])) + 1
    u = rng.random(len(rest))
    for chunk in np.split(order, bounds):
        if len(chunk) == 0:
            continue
        first = rest[chunk[0]]
        w = stratum_weights(
            items,
            int(category[first]),
            int(gender[first]),
            float(price_exponent(dpersona[first], device[first])),
            day,
        )
        cdf = np.cumsum(w)
        item[rest[chunk]] = np.minimum(np.searchsorted(cdf, u[chunk] * cdf[-1], side="right"), len(w) - 1)

    # Time within the session: exponential gaps after the session start.
    gaps = rng.exponential(45.0, n_views).astype(np.int64) + 1
    csum = np.cumsum(gaps)
    sess_first = np.concatenate([[0], np.cumsum(sess_views)[:-1]])
    before = np.concatenate([[0], csum])[sess_first]
    view_ts = sess_start[view_sess] + (csum - before[view_sess])
    discount = rng.random(n_views) < personas.DISCOUNT_PROBABILITY[dpersona]
    session = session_offset + view_sess

    # Funnel: one uniform per view makes the steps nested (Purchase ⊂ Checkout ⊂ ...).
    funnel_u = rng.random(n_views)
    t = view_ts.copy()
    parts: list[tuple[IntArray, IntArray, int]] = [(np.arange(n_views), view_ts, EVENT_CODE["View"])]
    for step, rate in personas.FUNNEL:
        idx = np.flatnonzero(funnel_u < rate)
        t[idx] += rng.exponential(30.0, len(idx)).astype(np.int64) + 1
        parts.append((idx, t[idx].copy(), EVENT_CODE[step.value]))

    # Impressions: the slate around each view; same category or globally popular.
    n_imp = rng.poisson(config.impressions_per_view, n_views)
    imp_view = np.repeat(np.arange(n_views), n_imp)
    available = items.popularity * (items.first_day <= day)
    imp_item = _sample_from_cdf(rng, available, len(imp_view))
    same_cat = rng.random(len(imp_view)) < 0.5
    cat_of_view = items.category[item[imp_view]]
    for c in np.unique(cat_of_view[same_cat]):
        sel = np.flatnonzero(same_cat & (cat_of_view == c))
        w = available * (items.category == c)
        if w.sum() > 0:
            imp_item[sel] = _sample_from_cdf(rng, w, len(sel))
    for _ in range(3):  # an impression of the clicked item is a View, not a negative
        clash = np.flatnonzero(imp_item == item[imp_view])
        imp_item[clash] = _sample_from_cdf(rng, available, len(clash))
    keep = imp_item != item[imp_view]
    imp_view, imp_item = imp_view[keep], imp_item[keep]

    rows = np.concatenate([imp_view] + [p[0] for p in parts])
    ts = np.concatenate([view_ts[imp_view]] + [p[1] for p in parts])
    event = np.concatenate(
        [np.full(len(imp_view), IMPRESSION_CODE)] + [np.full(len(p[0]), p[2]) for p in parts]
    ).astype(np.int64)
    row_item = np.concatenate([imp_item, item[rows[len(imp_view) :]]])
    ts = np.minimum(ts, day_start + s.SECONDS_PER_DAY - 1)
    order = np.argsort(ts, kind="stable")
    rows = rows[order]
    return DayEvents(
        visitor=visitor[rows],
        session=session[rows],
        item=row_item[order],
        timestamp=ts[order],
        device=device[rows],
        event=event[order],
        discount=discount[rows],
    )


def _dictionary(
    codes: IntArray, vocabulary: npt.NDArray[np.str_], mask: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    """Dictionary array holding only the values used (keeps day files small and stable)."""
    used, inverse = np.unique(codes if mask is None else codes[~mask], return_inverse=True)
    indices = np.zeros(len(codes), dtype=np.int32)
    if mask is None:
        indices[:] = inverse
    else:
        indices[~mask] = inverse
    return pa.DictionaryArray.from_arrays(
        pa.array(indices, mask=mask), _flat(pa.array(vocabulary[used], pa.string()))
    )


def to_table(events: DayEvents, truth: GroundTruth) -> pa.Table:
    anon = truth.visitors.anonymous[events.visitor]
    ids = truth.visitors.visitor_ids
    return pa.Table.from_arrays(
        [
            _dictionary(events.visitor, ids, mask=anon),
            _dictionary(events.visitor, ids, mask=~anon),
            pa.array(events.session),
            _dictionary(events.item, truth.items.item_ids),
            pa.array(events.timestamp),
            _dictionary(events.device, np.array(s.DEVICE_TYPES)),
            _dictionary(events.event, np.array(s.EVENT_TYPES)),
            pa.array(events.event != IMPRESSION_CODE),
            pa.array(events.discount),
        ],
        schema=s.INTERACTIONS_SCHEMA,
    )


def users_table(truth: GroundTruth) -> pa.Table:
    v = truth.visitors
    known = ~v.anonymous
    return pa.table(
        {
            s.USER_ID: pa.array(v.visitor_ids[known]),
            s.AGE: pa.array(v.age[known], pa.int16()),
            s.GENDER: pa.array(np.array(["M", "F"])[v.gender[known]]),
            s.FIRST_DAY: pa.array(v.first_day[known], pa.int16()),
        },
        schema=s.USERS_SCHEMA,
    )


def iter_days(config: GeneratorConfig, truth: GroundTruth) -> Iterator[tuple[int, pa.Table]]:
    views = _views_per_day(config, truth)
    offset = 0
    for day in range(config.days):
        events = generate_day(config, truth, day, float(views[day]), offset)
        offset = int(events.session.max()) + 1 if len(events.session) else offset
        yield day, to_table(events, truth)


def generate(
    config: GeneratorConfig,
    destination: Path,
    *,
    on_day: Callable[[int], None] | None = None,
    on_image: Callable[[], None] | None = None,
) -> GenerationSummary:
    """Write the seed's layout plus `ground_truth/` to `destination`, atomically.

    Everything goes to a temporary folder beside `destination` which is renamed at the
    end, so a crash never leaves a half-written dataset. Writing a day overlaps with
    drawing the next (pyarrow releases the GIL).
    """
    destination = destination.resolve()
    if destination.exists() and any(destination.iterdir()):
        raise FileExistsError(f"{destination} exists and is not empty")
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        catalog, truth = build_world(config)
        pq.write_table(catalog.items_table(), tmp / s.ITEMS_FILE)
        pq.write_table(catalog.descriptions_table(), tmp / s.DESCRIPTIONS_FILE)
        pq.write_table(users_table(truth), tmp / s.USERS_FILE)
        write_ground_truth(truth, tmp / s.GROUND_TRUTH_DIR, json.loads(config.model_dump_json()))
        n_images = 0
        if config.images:
            n_images = write_images(catalog, tmp / s.IMAGES_DIR, on_image)
        interactions = impressions = 0
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending: Future[None] | None = None
            for day, table in iter_days(config, truth):
                clicked = table[s.CLICKED]
                n_clicked = int(pc.sum(clicked).as_py() or 0)
                interactions += n_clicked
                impressions += len(table) - n_clicked
                if pending is not None:
                    pending.result()
                pending = writer.submit(pq.write_table, table, tmp / s.day_file_name(day))
                if on_day is not None:
                    on_day(day)
            if pending is not None:
                pending.result()
        if destination.exists():
            destination.rmdir()
        tmp.replace(destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return GenerationSummary(
        path=destination,
        days=config.days,
        users=config.users,
        items=len(catalog),
        interactions=interactions,
        impressions=impressions,
        images=n_images,
    )
