"""Ingestion accepts both real layouts and rejects bad input with file, row and column."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from recsys_workloads.data import schema as s
from recsys_workloads.data.errors import DataValidationError
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest, open_interactions, validate

RDS_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets" / "retail-demo-store"
T0 = 1_767_571_200  # 2026-01-05T00:00:00Z


@pytest.fixture(scope="module")
def seed_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed") / "shop"
    generate(GeneratorConfig(users=80, items=60, days=3, interactions=2_000, images=True, seed=1), out)
    return out


def _tiny_rds(root: Path, csv: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    products = [
        {"id": "p1", "name": "Red Chair", "category": "furniture", "style": "chairs", "price": 99.99,
         "description": "A red chair", "image": "p1.jpg"},
        {"id": "p2", "name": "Blue Shirt", "category": "apparel", "style": "shirt", "price": 19.99,
         "gender_affinity": "M", "promoted": True},
        {"id": "p3", "name": "Bread", "category": "groceries", "style": "bakery", "price": 3.99},
    ]  # fmt: skip
    (root / "products.yaml").write_text(json.dumps(products))  # JSON is YAML
    users = [
        {"id": "1", "gender": "F", "age": 30, "persona": "furniture_homedecor_housewares",
         "discount_persona": "all_discounts"},
        {"id": "2", "gender": "M", "age": 41, "persona": "apparel_footwear_accessories",
         "discount_persona": "discount_indifferent"},
    ]  # fmt: skip
    with gzip.open(root / "users.json.gz", "wt") as fh:
        json.dump(users, fh)
    if csv is None:
        csv = (
            "ITEM_ID,USER_ID,EVENT_TYPE,TIMESTAMP,DISCOUNT\n"
            f"p1,1,View,{T0 + 10},No\n"
            f"p1,1,AddToCart,{T0 + 20},Yes\n"
            f"p2,2,View,{T0 + 86_400 + 5},No\n"
        )
    (root / "interactions.csv").write_text(csv)
    return root


def test_ingest_real_rds_files_gives_full_catalog_and_users_with_personas(tmp_path: Path) -> None:
    if not (RDS_DIR / "products.yaml").exists():
        pytest.skip(f"RDS dataset not found at {RDS_DIR}")
    summary = ingest(RDS_DIR, tmp_path / "canon")
    assert (summary.items, summary.users) == (2_465, 5_250)
    users = pq.read_table(tmp_path / "canon" / s.USERS_FILE)
    assert users[s.PERSONA].null_count == 0
    assert len(pc.unique(users[s.PERSONA])) == 16
    items = pq.read_table(tmp_path / "canon" / s.ITEMS_FILE)
    assert items.schema == s.ITEMS_SCHEMA
    assert set(pc.unique(items[s.ITEM_GENDER]).to_pylist()) == {"M", "F", "Any"}


def test_rds_interactions_csv_lands_in_day_partitions(tmp_path: Path) -> None:
    source = _tiny_rds(tmp_path / "rds")
    summary = ingest(source, tmp_path / "canon")
    assert summary.days == [0, 1]
    table = open_interactions(tmp_path / "canon").to_table()
    assert table.num_rows == 3
    assert sorted(zip(table[s.DAY].to_pylist(), table[s.EVENT_TYPE].to_pylist(), strict=True)) == [
        (0, "AddToCart"),
        (0, "View"),
        (1, "View"),
    ]
    assert table[s.DISCOUNT].to_pylist().count(True) == 1
    assert table[s.DEVICE_TYPE].null_count == 3


def test_seed_layout_round_trips_into_the_canonical_dataset(seed_source: Path, tmp_path: Path) -> None:
    summary = ingest(seed_source, tmp_path / "canon")
    source_rows = sum(pq.read_metadata(seed_source / s.day_file_name(d)).num_rows for d in range(3))
    table = open_interactions(tmp_path / "canon").to_table()
    assert summary.interactions == table.num_rows == source_rows
    assert sorted(pc.unique(table[s.DAY]).to_pylist()) == [0, 1, 2]
    assert table.schema.remove(table.schema.get_field_index(s.DAY)) == s.INTERACTIONS_SCHEMA
    assert len(list((tmp_path / "canon" / s.IMAGES_DIR).iterdir())) == 60
    assert json.loads((tmp_path / "canon" / s.MANIFEST_FILE).read_text())["layout"] == "seed"


def _rewrite(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def _set(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table[column].to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    typ = table.schema.field(column).type
    plain = typ.value_type if pa.types.is_dictionary(typ) else typ
    return table.set_column(index, column, pa.array(values, plain))


def _retype(column: str, typ: pa.DataType) -> Callable[[pa.Table], pa.Table]:
    def change(table: pa.Table) -> pa.Table:
        index = table.schema.get_field_index(column)
        return table.set_column(index, column, pc.cast(pc.cast(table[column], pa.string()), typ))

    return change


SEED_CASES: list[tuple[str, str, Callable[[pa.Table], pa.Table], int | None, str, str]] = [
    ("missing column", "day_01.parquet", lambda t: t.drop_columns([s.ITEM_ID]), None, s.ITEM_ID, "missing"),
    ("unknown item", "day_01.parquet", lambda t: _set(t, s.ITEM_ID, 4, "no-such-item"), 5, s.ITEM_ID, "unknown item"),
    ("unknown user", "day_00.parquet", lambda t: _set(t, s.USER_ID, 0, "999999"), 1, s.USER_ID, "unknown user"),
    ("millisecond timestamp", "day_02.parquet", lambda t: _set(t, s.TIMESTAMP, 2, 1_767_744_000_000), 3,
     s.TIMESTAMP, "outside"),
    ("timestamp of another day", "day_01.parquet", lambda t: _set(t, s.TIMESTAMP, 6, T0 + 5), 7, s.TIMESTAMP,
     "outside day 01"),
    ("unknown event type", "day_00.parquet", lambda t: _set(t, s.EVENT_TYPE, 3, "Click"), 4, s.EVENT_TYPE,
     "not one of"),
    ("unknown device", "day_00.parquet", lambda t: _set(t, s.DEVICE_TYPE, 8, "fax"), 9, s.DEVICE_TYPE, "not one of"),
    ("timestamp as text", "day_00.parquet", _retype(s.TIMESTAMP, pa.string()), None, s.TIMESTAMP, "expected integer"),
    ("duplicate item id", s.ITEMS_FILE, lambda t: _set(t, s.ITEM_ID, 9, t[s.ITEM_ID][2].as_py()), 10, s.ITEM_ID,
     "duplicate"),
    ("duplicate user id", s.USERS_FILE, lambda t: _set(t, s.USER_ID, 5, "1"), 6, s.USER_ID, "duplicate"),
    ("price as text", s.ITEMS_FILE, _retype(s.PRICE, pa.string()), None, s.PRICE, "expected number"),
    ("bad item gender", s.ITEMS_FILE, lambda t: _set(t, s.ITEM_GENDER, 11, "X"), 12, s.ITEM_GENDER, "not one of"),
]  # fmt: skip

RDS_HEADER = "ITEM_ID,USER_ID,EVENT_TYPE,TIMESTAMP,DISCOUNT\n"
RDS_CASES: list[tuple[str, str, Callable[[Path], object], int | None, str | None, str]] = [
    ("csv missing column", "interactions.csv",
     lambda r: (r / "interactions.csv").write_text("ITEM_ID,USER_ID,EVENT_TYPE\np1,1,View\n"), None, "TIMESTAMP",
     "missing"),
    ("csv timestamp not a number", "interactions.csv",
     lambda r: (r / "interactions.csv").write_text(f"{RDS_HEADER}p1,1,View,{T0},No\np1,1,View,yesterday,No\n"),
     2, "TIMESTAMP", "expected integer"),
    ("csv unknown item", "interactions.csv",
     lambda r: (r / "interactions.csv").write_text(f"{RDS_HEADER}p1,1,View,{T0},No\np1,1,View,{T0},No\n"
                                                    f"p9,2,View,{T0},No\n"), 3, "ITEM_ID", "unknown item"),
    ("csv bad discount", "interactions.csv",
     lambda r: (r / "interactions.csv").write_text(f"{RDS_HEADER}p1,1,View,{T0},Maybe\n"), 1, "DISCOUNT",
     "not one of"),
    ("csv timestamp in milliseconds", "interactions.csv",
     lambda r: (r / "interactions.csv").write_text(f"{RDS_HEADER}p1,1,View,{T0 * 1000},No\n"), 1, "TIMESTAMP",
     "outside"),
    ("products duplicate id", "products.yaml",
     lambda r: (r / "products.yaml").write_text((r / "products.yaml").read_text().replace('"p3"', '"p1"')), 3, "id",
     "duplicate"),
    ("products negative price", "products.yaml",
     lambda r: (r / "products.yaml").write_text((r / "products.yaml").read_text().replace("19.99", "-1")), 2,
     "price", "greater than 0"),
    ("users bad gender", "users.json.gz",
     lambda r: (r / "users.json.gz").write_bytes(gzip.compress(b'[{"id": "1", "gender": "Q", "age": 3}]')), 1,
     "gender", "'M' or 'F'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "change", "row", "column", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in SEED_CASES],
)
def test_bad_seed_layout_is_rejected_naming_file_row_and_column(
    seed_source: Path,
    tmp_path: Path,
    file: str,
    change: Callable[[pa.Table], pa.Table],
    row: int | None,
    column: str,
    phrase: str,
) -> None:
    source = tmp_path / "bad"
    shutil.copytree(seed_source, source, ignore=shutil.ignore_patterns("images", "ground_truth"))
    _rewrite(source / file, change)
    with pytest.raises(DataValidationError) as caught:
        ingest(source, tmp_path / "canon", unknown_users="reject", unknown_items="reject")
    error = caught.value
    assert (Path(error.file).name, error.row, error.column) == (file, row, column)
    assert file in str(error) and phrase in str(error) and repr(column) in str(error)
    assert not (tmp_path / "canon").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad"]  # no temporary folder left behind


@pytest.mark.parametrize(
    ("file", "change", "row", "column", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in RDS_CASES],
)
def test_bad_rds_layout_is_rejected_naming_file_row_and_column(
    tmp_path: Path, file: str, change: Callable[[Path], object], row: int | None, column: str, phrase: str
) -> None:
    source = _tiny_rds(tmp_path / "rds")
    change(source)
    with pytest.raises(DataValidationError) as caught:
        validate(source, unknown_users="reject", unknown_items="reject")
    error = caught.value
    assert (Path(error.file).name, error.row, error.column) == (file, row, column)
    assert phrase in str(error)
    if row is not None:
        assert f"row {row}" in str(error)


def test_failed_ingest_keeps_the_previous_dataset(tmp_path: Path) -> None:
    good = _tiny_rds(tmp_path / "good")
    ingest(good, tmp_path / "canon")
    before = sorted(p.relative_to(tmp_path / "canon") for p in (tmp_path / "canon").rglob("*"))
    bad = _tiny_rds(tmp_path / "bad", csv=f"{RDS_HEADER}p1,1,View,{T0 * 1000},No\n")
    with pytest.raises(DataValidationError):
        ingest(bad, tmp_path / "canon", overwrite=True)
    assert sorted(p.relative_to(tmp_path / "canon") for p in (tmp_path / "canon").rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "canon", "good"]


def test_unrecognised_folder_is_rejected_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="unrecognised layout"):
        validate(tmp_path)


def _write_users(path: Path, users: list[dict[str, object]]) -> None:
    with gzip.open(path, "wt") as fh:
        json.dump(users, fh)


def test_by_default_users_without_a_profile_are_kept_and_rows_of_unknown_items_dropped(
    tmp_path: Path,
) -> None:
    """A shop's real logs: a guest (5777, no profile) and a retired product (p9) among known rows."""
    csv = (
        f"{RDS_HEADER}p1,1,View,{T0 + 10},No\np9,1,View,{T0 + 11},No\np2,5777,View,{T0 + 12},No\n"
        f"p9,6000,Purchase,{T0 + 13},No\np9,2,View,{T0 + 14},No\n"
    )
    source = _tiny_rds(tmp_path / "rds", csv=csv)
    summary = ingest(source, tmp_path / "canon")
    # 6000 appears only beside the unknown item: its rows are gone, so it is no profile-less user.
    assert summary.unknown == {"profile_less_users": 1, "dropped_interactions": 3, "unknown_items": 1}
    assert summary.interactions == 2 and summary.users == 3
    assert summary.unknown_note() == ", 1 users without a profile kept, 3 rows of 1 unknown items dropped"
    users = pq.read_table(tmp_path / "canon" / s.USERS_FILE).to_pylist()
    guest = next(u for u in users if u[s.USER_ID] == "5777")
    assert guest[s.AGE] is None and guest[s.GENDER] is None and guest[s.PERSONA] is None
    rows = open_interactions(tmp_path / "canon").to_table()
    assert set(rows[s.ITEM_ID].to_pylist()) == {"p1", "p2"}
    manifest = json.loads((tmp_path / "canon" / s.MANIFEST_FILE).read_text())
    assert manifest["profile_less_users"] == 1 and manifest["dropped_interactions"] == 3
    assert validate(source).unknown == summary.unknown  # validate reports what ingest would do


def test_reject_names_the_first_unknown_row_and_a_dropped_row_is_not_judged_by_its_user(
    tmp_path: Path,
) -> None:
    csv = f"{RDS_HEADER}p1,1,View,{T0 + 10},No\np9,6000,View,{T0 + 11},No\np2,5777,View,{T0 + 12},No\n"
    source = _tiny_rds(tmp_path / "rds", csv=csv)
    with pytest.raises(DataValidationError) as caught:
        validate(source, unknown_users="reject")  # row 2's user is unknown too, but row 2 is dropped
    assert (caught.value.row, caught.value.column) == (3, "USER_ID") and "'5777'" in str(caught.value)
    with pytest.raises(DataValidationError) as caught:
        validate(source, unknown_items="reject")
    assert (caught.value.row, caught.value.column) == (2, "ITEM_ID")


def test_every_users_file_of_the_generator_is_merged(tmp_path: Path) -> None:
    csv = f"{RDS_HEADER}p1,1,View,{T0 + 10},No\np3,5777,Purchase,{T0 + 12},No\n"
    source = _tiny_rds(tmp_path / "rds", csv=csv)
    cstore = {
        "id": 5777,
        "gender": "F",
        "age": 52,
        "persona": "groceries",
    }  # an int id: the same user as "5777"
    _write_users(
        source / "cstore_users.json.gz",
        [
            cstore,
            {
                "id": "2",
                "gender": "M",
                "age": 41,
                "persona": "apparel_footwear_accessories",
                "discount_persona": "discount_indifferent",
            },
        ],
    )
    summary = ingest(source, tmp_path / "canon")
    assert summary.users == 3 and summary.unknown["profile_less_users"] == 0  # user 2, in both files, once
    users = {u[s.USER_ID]: u for u in pq.read_table(tmp_path / "canon" / s.USERS_FILE).to_pylist()}
    assert (users["5777"][s.AGE], users["5777"][s.PERSONA]) == (52, "groceries")

    _write_users(source / "cstore_users.json.gz", [{"id": "2", "gender": "F", "age": 41}])
    with pytest.raises(DataValidationError) as caught:
        validate(source)
    assert caught.value.file.endswith("cstore_users.json.gz") and caught.value.row == 1
    assert "also in users.json.gz (row 2)" in str(caught.value)


def test_an_unknown_user_of_the_seed_layout_is_kept_without_a_profile(
    seed_source: Path, tmp_path: Path
) -> None:
    source = tmp_path / "seed"
    shutil.copytree(seed_source, source, ignore=shutil.ignore_patterns("images", "ground_truth"))
    _rewrite(source / "day_00.parquet", lambda t: _set(t, s.USER_ID, 0, "guest-1"))
    summary = ingest(source, tmp_path / "canon")
    assert summary.unknown["profile_less_users"] == 1
    users = pq.read_table(tmp_path / "canon" / s.USERS_FILE)
    assert "guest-1" in users[s.USER_ID].to_pylist()


def test_a_profile_less_user_gets_the_features_of_an_unknown_visitor_not_nan(tmp_path: Path) -> None:
    from recsys_workloads.features import transform as ft
    from recsys_workloads.features.fit import fit_transforms
    from recsys_workloads.features.tables import load_catalog, load_interactions, load_users

    csv = f"{RDS_HEADER}p1,1,View,{T0 + 10},No\np2,5777,View,{T0 + 12},No\np3,2,View,{T0 + 13},No\n"
    ingest(_tiny_rds(tmp_path / "rds", csv=csv), tmp_path / "canon")
    users = load_users(tmp_path / "canon")
    fitted = fit_transforms(load_catalog(tmp_path / "canon"), users, load_interactions(tmp_path / "canon"))
    visitors = ["5777", "never-seen", "1"]
    ages, genders = users.attributes(visitors)
    features = ft.transform_users(fitted, visitors, ages, genders, [None] * 3, [[]] * 3)
    assert all(np.isfinite(v.astype(np.float64)).all() for v in features.values())
    for name in (ft.AGE, ft.AGE_BUCKET, ft.GENDER):
        assert features[name][0] == features[name][1] != features[name][2]  # 1 has a profile


def test_images_elsewhere_are_ingested_by_item_id_and_rds_image_name(
    seed_source: Path, tmp_path: Path
) -> None:
    """spec.dataSources.imagesUri: a folder apart from the source (ingest ignored it before)."""
    moved = tmp_path / "pictures"
    shop = tmp_path / "shop"
    shutil.copytree(seed_source, shop, ignore=shutil.ignore_patterns(s.IMAGES_DIR))
    shutil.copytree(seed_source / s.IMAGES_DIR, moved)
    summary = ingest(shop, tmp_path / "seed", images=moved)
    assert summary.images == 60
    some = sorted(moved.iterdir())[0]
    assert (tmp_path / "seed" / s.IMAGES_DIR / some.name).read_bytes() == some.read_bytes()
    assert ingest(shop, tmp_path / "none").images == 0  # no images/ beside the data: none

    rds = _tiny_rds(tmp_path / "rds")  # p1's image is p1.jpg; p2 and p3 name none
    (tmp_path / "store" / "furniture").mkdir(parents=True)
    (tmp_path / "store" / "furniture" / "p1.jpg").write_bytes(b"jpeg of p1")
    (tmp_path / "store" / "p3.png").write_bytes(b"png of p3")
    summary = ingest(rds, tmp_path / "rds-canon", images=tmp_path / "store")
    assert summary.images == 2
    assert json.loads((tmp_path / "rds-canon" / s.MANIFEST_FILE).read_text())["images"] == 2
    pictures = tmp_path / "rds-canon" / s.IMAGES_DIR
    assert sorted(p.name for p in pictures.iterdir()) == ["p1.png", "p3.png"]
    assert (pictures / "p1.png").read_bytes() == b"jpeg of p1"


def test_an_images_folder_named_in_the_spec_must_exist_and_hold_catalog_images(tmp_path: Path) -> None:
    rds = _tiny_rds(tmp_path / "rds")
    with pytest.raises(DataValidationError, match="images folder is missing"):
        ingest(rds, tmp_path / "canon", images=tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "unrelated.png").write_bytes(b"?")
    with pytest.raises(DataValidationError, match="no image of any catalog item"):
        validate(rds, images=tmp_path / "other")
    assert not (tmp_path / "canon").exists()
