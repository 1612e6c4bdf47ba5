"""The synthetic shop behaves like the RDS generator plus the seed's context effects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from recsys_workloads.data import personas
from recsys_workloads.data import schema as s
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ground_truth import load_ground_truth, true_affinity

TINY = GeneratorConfig(users=400, items=240, interactions=30_000, images=False, seed=7)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop") / "shop"
    generate(TINY, out)
    return out


@pytest.fixture(scope="module")
def events(shop: Path) -> pd.DataFrame:
    frames = []
    for day in range(TINY.days):
        frame = pq.read_table(shop / s.day_file_name(day)).to_pandas()
        for column in (s.USER_ID, s.ANONYMOUS_ID, s.ITEM_ID, s.DEVICE_TYPE, s.EVENT_TYPE):
            frame[column] = frame[column].astype(object)
        frame[s.DAY] = day
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    items = pq.read_table(shop / s.ITEMS_FILE).to_pandas()
    return df.merge(items[[s.ITEM_ID, s.CATEGORY_L1, s.PRICE, s.ITEM_GENDER, s.FIRST_DAY]], on=s.ITEM_ID)


@pytest.fixture(scope="module")
def views(events: pd.DataFrame) -> pd.DataFrame:
    v = events[events[s.EVENT_TYPE] == s.EventType.VIEW.value].copy()
    ts = pd.to_datetime(v[s.TIMESTAMP], unit="s", utc=True)
    v["hour"], v["weekday"] = ts.dt.hour, ts.dt.weekday
    return v


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    config = GeneratorConfig(users=150, items=60, days=3, interactions=3_000, seed=3)
    generate(config, tmp_path / "a")
    generate(config, tmp_path / "b")
    generate(config.model_copy(update={"seed": 4}), tmp_path / "c")
    a, b, c = (_tree_bytes(tmp_path / n) for n in "abc")
    assert a == b
    assert a["day_01.parquet"] != c["day_01.parquet"]
    assert {
        "items.parquet",
        "users.parquet",
        "item_descriptions.parquet",
        "ground_truth/model.json",
    } <= a.keys()
    assert sum(k.startswith("images/") for k in a) == 60


def test_seed_layout_has_the_documented_columns(shop: Path) -> None:
    day = pq.read_schema(shop / "day_00.parquet")
    assert set(s.REQUIRED_INTERACTION_COLUMNS) <= set(day.names)
    assert set(s.REQUIRED_ITEM_COLUMNS) | {s.FIRST_DAY} <= set(pq.read_schema(shop / s.ITEMS_FILE).names)
    assert set(s.REQUIRED_USER_COLUMNS) <= set(pq.read_schema(shop / s.USERS_FILE).names)
    assert pq.read_table(shop / s.USERS_FILE).num_rows == TINY.users


def test_interaction_count_matches_the_knob(events: pd.DataFrame) -> None:
    clicked = int(events[s.CLICKED].sum())
    assert abs(clicked - TINY.interactions) / TINY.interactions < 0.03


def test_funnel_rates_follow_retail_demo_store(events: pd.DataFrame) -> None:
    counts = events[s.EVENT_TYPE].value_counts()
    n_views = counts[s.EventType.VIEW.value]
    for event, rate in personas.FUNNEL:
        assert counts[event.value] / n_views == pytest.approx(rate, abs=max(0.004, rate * 0.2)), event


def test_persona_first_category_gets_about_sixty_percent_of_views(shop: Path, views: pd.DataFrame) -> None:
    truth = pq.read_table(shop / "ground_truth" / "visitors.parquet").to_pandas()
    first = truth.set_index("visitor_id")[s.PERSONA].str.split("_").str[0]
    known = views[views[s.USER_ID].notna()]
    shares = (known[s.CATEGORY_L1].to_numpy() == first.loc[known[s.USER_ID]].to_numpy()).mean()
    assert shares == pytest.approx(0.6, abs=0.06)


def test_known_users_never_view_items_for_the_other_gender(shop: Path, views: pd.DataFrame) -> None:
    users = pq.read_table(shop / s.USERS_FILE).to_pandas().set_index(s.USER_ID)[s.GENDER]
    known = views[views[s.USER_ID].notna()]
    gendered = known[known[s.ITEM_GENDER] != "Any"]
    assert len(gendered) > 100
    assert (gendered[s.ITEM_GENDER].to_numpy() == users.loc[gendered[s.USER_ID]].to_numpy()).all()


def test_weekend_lifts_furniture_outdoors_and_tools(views: pd.DataFrame) -> None:
    boosted = views[s.CATEGORY_L1].isin(["furniture", "outdoors", "tools"])
    weekend = views["weekday"] >= 5
    assert boosted[weekend].mean() > 1.2 * boosted[~weekend].mean()


def test_devices_differ_in_hours_and_prices(views: pd.DataFrame) -> None:
    by_device = views.groupby(s.DEVICE_TYPE)
    evening = by_device["hour"].apply(lambda h: (h >= 18).mean())
    assert evening["ios"] > evening["web"] + 0.15
    assert evening["android"] > evening["web"] + 0.15
    groceries_morning = views[views[s.CATEGORY_L1] == "groceries"]["hour"].between(6, 11).mean()
    assert groceries_morning > views["hour"].between(6, 11).mean() * 1.3
    log_relative = np.log(views[s.PRICE] / views.groupby(s.CATEGORY_L1)[s.PRICE].transform("median"))
    by_device_price = log_relative.groupby(views[s.DEVICE_TYPE]).mean()
    assert by_device_price["android"] < by_device_price["web"] - 0.1


def test_cold_start_items_appear_only_from_their_release_day(events: pd.DataFrame) -> None:
    assert (events[s.DAY] >= events[s.FIRST_DAY]).all()
    late = events[events[s.FIRST_DAY] > 0]
    assert len(late) > 0


def test_new_users_arrive_over_time(shop: Path, events: pd.DataFrame) -> None:
    users = pq.read_table(shop / s.USERS_FILE).to_pandas().set_index(s.USER_ID)[s.FIRST_DAY]
    assert (users > 0).mean() == pytest.approx(TINY.new_user_share, abs=0.08)
    known = events[events[s.USER_ID].notna()]
    assert (known[s.DAY].to_numpy() >= users.loc[known[s.USER_ID]].to_numpy()).all()
    assert known[known[s.DAY] > 0][s.USER_ID].isin(users[users > 0].index).any()


def test_anonymous_visitors_have_no_user_id_and_a_stable_prefixed_id(events: pd.DataFrame) -> None:
    anon = events[s.USER_ID].isna()
    assert anon.mean() == pytest.approx(TINY.anonymous_share, abs=0.03)
    assert events.loc[anon, s.ANONYMOUS_ID].str.startswith(s.ANONYMOUS_PREFIX).all()
    assert events.loc[~anon, s.ANONYMOUS_ID].isna().all()
    assert events.loc[anon].groupby(s.ANONYMOUS_ID)[s.DAY].nunique().max() > 1


def test_impressions_are_unclicked_negatives_beside_views(events: pd.DataFrame) -> None:
    impressions = events[s.EVENT_TYPE] == s.EventType.IMPRESSION.value
    assert (events[s.CLICKED] == ~impressions).all()
    per_view = impressions.sum() / (events[s.EVENT_TYPE] == s.EventType.VIEW.value).sum()
    assert per_view == pytest.approx(TINY.impressions_per_view, rel=0.1)
    # A slate is stamped with its view's time; rows clipped to 23:59:59 may share a stamp.
    unclipped = events[s.TIMESTAMP] % s.SECONDS_PER_DAY != s.SECONDS_PER_DAY - 1
    views = events[unclipped & (events[s.EVENT_TYPE] == "View")][[s.SESSION_ID, s.TIMESTAMP, s.ITEM_ID]]
    shown = events[unclipped & impressions][[s.SESSION_ID, s.TIMESTAMP, s.ITEM_ID]]
    assert len(shown.merge(views, on=[s.SESSION_ID, s.TIMESTAMP, s.ITEM_ID])) == 0


def test_timestamps_fall_inside_their_day(events: pd.DataFrame) -> None:
    start = int(dt.datetime.combine(TINY.start_date, dt.time(), dt.UTC).timestamp())
    assert ((events[s.TIMESTAMP] - start) // s.SECONDS_PER_DAY == events[s.DAY]).all()


def test_views_concentrate_on_items_the_ground_truth_rates_highly(shop: Path, views: pd.DataFrame) -> None:
    truth = load_ground_truth(shop / "ground_truth")
    code = {v: i for i, v in enumerate(truth.visitors.visitor_ids.tolist())}
    item_code = {v: i for i, v in enumerate(truth.items.item_ids.tolist())}
    sample = views.sample(300, random_state=0)
    visitor = np.array(
        [
            code[u if isinstance(u, str) else a]
            for u, a in zip(sample[s.USER_ID], sample[s.ANONYMOUS_ID], strict=True)
        ]
    )
    device = np.array([s.DEVICE_TYPES.index(d) for d in sample[s.DEVICE_TYPE]])
    probs = np.concatenate(
        [
            true_affinity(truth, visitor[i : i + 1], hour=h, weekday=w, device=device[i : i + 1], day=int(d))
            for i, (h, w, d) in enumerate(zip(sample["hour"], sample["weekday"], sample[s.DAY], strict=True))
        ]
    )
    assert np.allclose(probs.sum(axis=1), 1.0)
    observed = probs[np.arange(len(sample)), [item_code[i] for i in sample[s.ITEM_ID]]]
    assert (observed > 0).all()
    n_items = probs.shape[1]
    assert observed.mean() > 10 / n_items
    # The oracle's top 10% catches most views; a uniform ranking would catch 10%.
    rank = (probs > observed[:, None]).sum(axis=1)
    assert (rank < n_items // 10).mean() > 0.6


def test_generator_accepts_the_real_rds_catalog(rds_dir: Path, tmp_path: Path) -> None:
    config = GeneratorConfig(
        users=50, interactions=2_000, days=2, images=False, catalog=rds_dir / "products.yaml"
    )
    summary = generate(config, tmp_path / "rds-shop")
    assert summary.items == 2_465
    items = pq.read_table(tmp_path / "rds-shop" / s.ITEMS_FILE)
    assert set(items[s.CATEGORY_L1].to_pylist()) >= {"furniture", "apparel", "food service"}


def test_generate_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(
            GeneratorConfig(users=10, items=40, interactions=100, days=1, images=False), tmp_path / "out"
        )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


@pytest.fixture(scope="module")
def rds_dir() -> Path:
    path = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "retail-demo-store"
    if not (path / "products.yaml").exists():
        pytest.skip(f"RDS dataset not found at {path}")
    return path
