"""The Amazon Personalize layout: its CSVs as Personalize documents them, mapped onto the canonical dataset."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from recsys_workloads.contracts.data_sources import CanonicalEventType
from recsys_workloads.data import personalize
from recsys_workloads.data import schema as s
from recsys_workloads.data.errors import DataValidationError
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import detect_layout, ingest, open_interactions, validate
from recsys_workloads.data.personalize import export

T0 = 1_767_571_200  # 2026-01-05T00:00:00Z
DAY = 86_400

ITEMS = (
    "ITEM_ID,PRICE,CATEGORY_L1,CATEGORY_L2,GENDER,CREATION_TIMESTAMP,PRODUCT_DESCRIPTION,AGE_GROUP\n"
    f"p1,99.5,furniture|sale,chairs,unisex,{T0 - 400 * DAY},A red chair,adults\n"
    f"p2,19.99,apparel,,Men,{T0 + 2 * DAY + 5},,adults\n"
    'p3,3,groceries,bakery|bread,M|F,,"Fresh, warm bread",\n'
)
USERS = "USER_ID,AGE,GENDER,MEMBERSHIP\n1,30,F,gold\n2,,male,\n"
INTERACTIONS = (
    "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,IMPRESSION,RECOMMENDATION_ID,LOCATION\n"
    f"1,p1,{T0 + 10},click,,p1|p2|p3,rec-1,Seattle\n"
    f"1,p1,{T0 + 20},Add-To-Cart,2.5,,,Seattle\n"
    f"2,p2,{T0 + DAY + 5},purchase,19.99,,,\n"
)


def _folder(
    root: Path, *, items: str = ITEMS, users: str | None = USERS, interactions: str = INTERACTIONS
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "items.csv").write_text(items)
    if users is not None:
        (root / "users.csv").write_text(users)
    (root / "interactions.csv").write_text(interactions)
    return root


def _interactions(dataset: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = (
        open_interactions(dataset).to_table().sort_by([(s.TIMESTAMP, "ascending")]).to_pylist()
    )
    return rows


def test_the_three_csvs_map_onto_the_canonical_dataset(tmp_path: Path) -> None:
    source = _folder(tmp_path / "pz")
    assert detect_layout(source) == "personalize"
    summary = ingest(source, tmp_path / "canon")
    assert (summary.layout, summary.items, summary.users, summary.days) == ("personalize", 3, 2, [0, 1])
    rows = _interactions(tmp_path / "canon")
    # click → View; the two other items of its IMPRESSION are un-clicked Impression rows beside it.
    assert [(r[s.ITEM_ID], r[s.EVENT_TYPE], r[s.CLICKED]) for r in rows] == [
        ("p2", "Impression", False),
        ("p3", "Impression", False),
        ("p1", "View", True),
        ("p1", "AddToCart", True),
        ("p2", "Purchase", True),
    ]
    assert {r[s.USER_ID] for r in rows[:3]} == {"1"} and {r[s.TIMESTAMP] for r in rows[:3]} == {T0 + 10}
    assert rows[-1][s.DAY] == 1 and rows[0][s.DEVICE_TYPE] is None and rows[0][s.SESSION_ID] is None
    items = {r[s.ITEM_ID]: r for r in pq.read_table(tmp_path / "canon" / s.ITEMS_FILE).to_pylist()}
    # A multi-valued category keeps its first value; a missing CATEGORY_L2 falls back to CATEGORY_L1.
    assert (items["p1"][s.CATEGORY_L1], items["p1"][s.CATEGORY_L2]) == ("furniture", "chairs")
    assert (items["p2"][s.CATEGORY_L1], items["p2"][s.CATEGORY_L2]) == ("apparel", "apparel")
    assert items["p3"][s.CATEGORY_L2] == "bakery"
    assert [items[i][s.ITEM_GENDER] for i in ("p1", "p2", "p3")] == ["Any", "M", "Any"]
    # CREATION_TIMESTAMP → first day counted from the UTC midnight before the first interaction.
    assert [items[i][s.FIRST_DAY] for i in ("p1", "p2", "p3")] == [0, 2, 0]
    assert items["p1"][s.PRICE] == 99.5 and items["p3"][s.PROMOTED] is False
    descriptions = pq.read_table(tmp_path / "canon" / s.DESCRIPTIONS_FILE).to_pylist()
    assert [d[s.PRODUCT_DESCRIPTION] for d in descriptions] == ["A red chair", None, "Fresh, warm bread"]
    users = {u[s.USER_ID]: u for u in pq.read_table(tmp_path / "canon" / s.USERS_FILE).to_pylist()}
    assert (users["1"][s.AGE], users["1"][s.GENDER]) == (30, "F")
    assert (users["2"][s.AGE], users["2"][s.GENDER], users["2"][s.FIRST_DAY]) == (None, "M", None)
    manifest = json.loads((tmp_path / "canon" / s.MANIFEST_FILE).read_text())
    assert (manifest["layout"], manifest["origin_timestamp"], manifest["interactions"]) == (
        "personalize",
        T0,
        5,
    )


def test_column_names_are_compared_without_regard_to_case_and_files_may_be_gzipped(tmp_path: Path) -> None:
    source = _folder(
        tmp_path / "pz",
        items="\ufeffitem_id,Price,category_l1\np1,1,a\np2,2,b\n",
        users=None,
        interactions=f"user_id,Item_Id,timestamp\n7,p1,{T0}\n",
    )
    (source / "interactions.csv").rename(source / "interactions-2026-01.csv")
    with gzip.open(source / "interactions-2026-02.csv.gz", "wt") as fh:
        fh.write(f"USER_ID,ITEM_ID,TIMESTAMP\n8,p2,{T0 + 40 * DAY}\n")
    summary = ingest(source, tmp_path / "canon")
    assert summary.interactions == 2 and summary.days == [0, 40]
    # No users.csv: every user is profile-less; no EVENT_TYPE column: every row is a View.
    assert summary.unknown["profile_less_users"] == 2
    assert {r[s.EVENT_TYPE] for r in _interactions(tmp_path / "canon")} == {"View"}


def test_a_shops_own_event_types_go_through_the_mapping(tmp_path: Path) -> None:
    csv = f"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n1,p1,{T0},Detail_View\n1,p1,{T0 + 1},ORDER_PLACED\n"
    source = _folder(tmp_path / "pz", interactions=csv)
    mapping: dict[str, CanonicalEventType] = {"detail_view": "View", "order_placed": "Purchase"}
    ingest(source, tmp_path / "canon", event_types=mapping)
    assert [r[s.EVENT_TYPE] for r in _interactions(tmp_path / "canon")] == ["View", "Purchase"]
    with pytest.raises(DataValidationError) as caught:
        validate(source)  # the default mapping does not know them
    assert (caught.value.row, caught.value.column) == (1, "EVENT_TYPE")
    assert "'Detail_View' is not in spec.dataSources.eventTypes (view, click" in str(caught.value)


def test_context_columns_fill_device_session_visitor_and_discount(tmp_path: Path) -> None:
    csv = (
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,DEVICE,SESSION_ID,ANONYMOUS_ID,DISCOUNT\n"
        f"anon-4,p1,{T0},View,iOS,12,anon-4,Yes\n"
        f"1,p2,{T0 + 1},View,web,13,,no\n"
    )
    ingest(_folder(tmp_path / "pz", interactions=csv), tmp_path / "canon")
    anon, user = _interactions(tmp_path / "canon")
    assert (
        anon[s.USER_ID],
        anon[s.ANONYMOUS_ID],
        anon[s.DEVICE_TYPE],
        anon[s.SESSION_ID],
        anon[s.DISCOUNT],
    ) == (
        None,
        "anon-4",
        "ios",
        12,
        True,
    )
    assert (user[s.USER_ID], user[s.ANONYMOUS_ID], user[s.DISCOUNT]) == ("1", None, False)


def test_unknown_ids_follow_the_spec_policy_also_inside_impressions(tmp_path: Path) -> None:
    csv = (
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,IMPRESSION\n"
        f"1,p1,{T0},View,p1|p9|p2\n"
        f"guest,p2,{T0 + 1},View,\n"
        f"1,p8,{T0 + 2},View,p8|p3\n"
    )
    source = _folder(tmp_path / "pz", interactions=csv)
    summary = ingest(source, tmp_path / "canon")
    # p9 (shown) and p8 (viewed; its impressions go with it) are not in items.csv.
    assert summary.unknown == {"profile_less_users": 1, "dropped_interactions": 2, "unknown_items": 2}
    assert [(r[s.ITEM_ID], r[s.EVENT_TYPE]) for r in _interactions(tmp_path / "canon")] == [
        ("p2", "Impression"),
        ("p1", "View"),
        ("p2", "View"),
    ]
    with pytest.raises(DataValidationError) as caught:
        validate(source, unknown_items="reject")
    assert (caught.value.row, caught.value.column) == (1, "IMPRESSION")
    assert "unknown item id 'p9' shown in the impression" in str(caught.value)
    with pytest.raises(DataValidationError) as caught:
        validate(source, unknown_users="reject")
    assert (caught.value.row, caught.value.column) == (2, "USER_ID") and "'guest'" in str(caught.value)


def test_rows_are_counted_from_the_top_of_the_file_across_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(personalize, "BLOCK_SIZE", 256)  # many blocks for a small file
    good = "".join(f"1,p1,{T0 + i},View\n" for i in range(200))
    csv = f"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n{good}1,p1,{T0 * 1000},View\n"
    with pytest.raises(DataValidationError) as caught:
        validate(_folder(tmp_path / "pz", interactions=csv))
    assert (caught.value.row, caught.value.column) == (201, "TIMESTAMP")
    assert "expected unix seconds" in str(caught.value)


H = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"
BAD_CASES: list[tuple[str, str, str, int | None, str | None, str]] = [
    # (id, file, content, row, column, phrase)
    ("interactions missing TIMESTAMP", "interactions.csv", "USER_ID,ITEM_ID\n1,p1\n", None, "TIMESTAMP",
     "missing required column"),
    ("timestamp as a date", "interactions.csv", f"{H}\n1,p1,{T0},View\n1,p1,2026-01-05,View\n", 2, "TIMESTAMP",
     "expected integer unix seconds, got '2026-01-05'"),
    ("timestamp in milliseconds", "interactions.csv", f"{H}\n1,p1,{T0 * 1000},View\n", 1, "TIMESTAMP",
     "expected unix seconds"),
    ("empty user id", "interactions.csv", f"{H}\n1,p1,{T0},View\n,p1,{T0},View\n", 2, "USER_ID", "missing value"),
    ("empty event type", "interactions.csv", f"{H}\n1,p1,{T0},\n", 1, "EVENT_TYPE", "missing value"),
    ("unmapped event type", "interactions.csv", f"{H}\n1,p1,{T0},rate\n", 1, "EVENT_TYPE",
     "'rate' is not in spec.dataSources.eventTypes"),
    ("event value not a number", "interactions.csv", f"{H},EVENT_VALUE\n1,p1,{T0},View,high\n", 1, "EVENT_VALUE",
     "expected a number, got 'high'"),
    ("unknown device", "interactions.csv", f"{H},DEVICE\n1,p1,{T0},View,fax\n", 1, "DEVICE", "not one of web"),
    ("session not an integer", "interactions.csv", f"{H},SESSION_ID\n1,p1,{T0},View,s-1\n", 1, "SESSION_ID",
     "expected an integer, got 's-1'"),
    ("discount not a flag", "interactions.csv", f"{H},DISCOUNT\n1,p1,{T0},View,maybe\n", 1, "DISCOUNT",
     "'maybe' is not one of yes"),
    ("two device columns", "interactions.csv", f"{H},DEVICE,DEVICE_TYPE\n1,p1,{T0},View,web,web\n", None,
     "DEVICE, DEVICE_TYPE", "two device columns"),
    ("a column twice in another case", "interactions.csv", f"{H},event_type\n1,p1,{T0},View,View\n", None,
     "event_type", "appears twice"),
    ("not a field name", "interactions.csv", f"USER_ID,ITEM ID,TIMESTAMP\n1,p1,{T0}\n", None, "ITEM ID",
     "not a Personalize field name"),
    ("ragged row", "interactions.csv", f"{H}\n1,p1,{T0},View,extra\n", None, None, "cannot parse CSV"),
    ("empty interactions file", "interactions.csv", "", None, None, "empty file"),
    ("items missing PRICE", "items.csv", "ITEM_ID,CATEGORY_L1\np1,a\n", None, "PRICE", "missing required column"),
    ("negative price", "items.csv", "ITEM_ID,PRICE,CATEGORY_L1\np1,1,a\np2,-3,a\n", 2, "PRICE",
     "must not be negative"),
    ("price as text", "items.csv", "ITEM_ID,PRICE,CATEGORY_L1\np1,cheap,a\n", 1, "PRICE", "expected a number"),
    ("duplicate item id", "items.csv", "ITEM_ID,PRICE,CATEGORY_L1\np1,1,a\np2,1,a\np1,2,b\n", 3, "ITEM_ID",
     "duplicate id 'p1'"),
    ("item id with a bar", "items.csv", "ITEM_ID,PRICE,CATEGORY_L1\np1,1,a\np|2,1,a\n", 2, "ITEM_ID",
     "must not contain '|'"),
    ("empty category", "items.csv", "ITEM_ID,PRICE,CATEGORY_L1\np1,1,a\np2,1,|b\n", 2, "CATEGORY_L1",
     "missing value"),
    ("unknown item gender", "items.csv", "ITEM_ID,PRICE,CATEGORY_L1,GENDER\np1,1,a,robot\n", 1, "GENDER",
     "'robot' is not one of"),
    ("creation timestamp in ms", "items.csv",
     f"ITEM_ID,PRICE,CATEGORY_L1,CREATION_TIMESTAMP\np1,1,a,{T0 * 1000}\n", 1, "CREATION_TIMESTAMP",
     "expected unix seconds"),
    ("two description fields", "items.csv", "ITEM_ID,PRICE,CATEGORY_L1,DESCRIPTION,PRODUCT_DESCRIPTION\np1,1,a,x,y\n",
     None, "DESCRIPTION, PRODUCT_DESCRIPTION", "two textual description fields"),
    ("duplicate user id", "users.csv", "USER_ID,AGE\n1,3\n2,4\n2,5\n", 3, "USER_ID", "duplicate id '2'"),
    ("age not an integer", "users.csv", "USER_ID,AGE\n1,thirty\n", 1, "AGE", "expected an integer"),
    ("age out of range", "users.csv", "USER_ID,AGE\n1,30\n2,200\n", 2, "AGE", "outside 0..130"),
    ("unknown user gender", "users.csv", "USER_ID,GENDER\n1,Q\n", 1, "GENDER", "'q' is not one of"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("file", "content", "row", "column", "phrase"), [pytest.param(*c[1:], id=c[0]) for c in BAD_CASES]
)
def test_bad_files_are_rejected_naming_file_row_and_column(
    tmp_path: Path, file: str, content: str, row: int | None, column: str | None, phrase: str
) -> None:
    source = _folder(tmp_path / "pz")
    (source / file).write_text(content)
    with pytest.raises(DataValidationError) as caught:
        ingest(source, tmp_path / "canon")
    error = caught.value
    assert (Path(error.file).name, error.row, error.column) == (file, row, column)
    assert phrase in str(error) and file in str(error)
    if row is not None:
        assert f"row {row}" in str(error)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pz"]  # nothing written, no temporary folder


FOLDER_CASES: list[tuple[str, Callable[[Path], object], str, str]] = [
    ("no items.csv", lambda r: (r / "items.csv").unlink(), "items.csv", "file is missing"),
    ("items twice", lambda r: (r / "items.csv.gz").write_bytes(gzip.compress(ITEMS.encode())), "items.csv.gz",
     "items.csv is there too"),
    ("no interactions", lambda r: (r / "interactions.csv").unlink(), "interactions.csv", "file is missing"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "file", "phrase"), [pytest.param(*c[1:], id=c[0]) for c in FOLDER_CASES])
def test_a_folder_without_its_files_is_rejected(
    tmp_path: Path, change: Callable[[Path], object], file: str, phrase: str
) -> None:
    source = _folder(tmp_path / "pz")
    change(source)
    with pytest.raises(DataValidationError) as caught:
        validate(source, layout="personalize")
    assert Path(caught.value.file).name == file and phrase in str(caught.value)


# --- export, and the round trip ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    generate(
        GeneratorConfig(users=120, items=80, days=4, interactions=3_000, images=True, seed=3), root / "shop"
    )
    ingest(root / "shop", root / "canon", unknown_users="reject", unknown_items="reject")
    return root / "canon"


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded, rows in one order: what two canonical tables must agree on."""
    columns = {
        f.name: pc.cast(table[f.name], f.type.value_type) if pa.types.is_dictionary(f.type) else table[f.name]
        for f in table.schema
    }
    plain = pa.table(columns)
    return plain.sort_by([(name, "ascending") for name in plain.schema.names])


def test_export_of_a_generated_shop_then_ingest_gives_the_same_canonical_dataset(
    canonical: Path, tmp_path: Path
) -> None:
    counts = export(canonical, tmp_path / "pz")
    assert sorted(p.name for p in (tmp_path / "pz").iterdir()) == [
        "images",
        "interactions.csv",
        "items.csv",
        "users.csv",
    ]
    header = (tmp_path / "pz" / "interactions.csv").read_text().splitlines()[0]
    assert header.replace('"', "").split(",")[:5] == [
        "USER_ID",
        "ITEM_ID",
        "TIMESTAMP",
        "EVENT_TYPE",
        "IMPRESSION",
    ]
    summary = ingest(tmp_path / "pz", tmp_path / "again", unknown_users="reject", unknown_items="reject")
    before = json.loads((canonical / s.MANIFEST_FILE).read_text())
    after = json.loads((tmp_path / "again" / s.MANIFEST_FILE).read_text())
    for key in ("origin_timestamp", "items", "users", "interactions", "days"):
        assert after[key] == before[key], key
    # Impressions travel inside IMPRESSION, so the CSV has fewer rows than the canonical dataset.
    assert counts["interactions"] < summary.interactions == before["interactions"]
    for name in (s.ITEMS_FILE, s.USERS_FILE, s.DESCRIPTIONS_FILE):
        assert pq.read_table(tmp_path / "again" / name).equals(pq.read_table(canonical / name)), name
    for day in before["days"]:
        part = f"{s.INTERACTIONS_DIR}/{s.day_partition_name(day)}/part-0.parquet"
        original, round_tripped = pq.read_table(canonical / part), pq.read_table(tmp_path / "again" / part)
        assert round_tripped.schema == original.schema == s.INTERACTIONS_SCHEMA
        assert _plain(round_tripped).equals(_plain(original)), day
    images = sorted(p.name for p in (canonical / s.IMAGES_DIR).iterdir())
    assert sorted(p.name for p in (tmp_path / "again" / s.IMAGES_DIR).iterdir()) == images


def test_an_impression_without_its_view_is_exported_as_a_row_of_its_own(tmp_path: Path) -> None:
    csv = (
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,SESSION_ID\n"
        f"1,p1,{T0},View,5\n"
        f"1,p3,{T0 + 9},impression,5\n"  # shown, never beside a View at that time
    )
    ingest(_folder(tmp_path / "pz", interactions=csv), tmp_path / "canon")
    export(tmp_path / "canon", tmp_path / "out")
    rows = (tmp_path / "out" / "interactions.csv").read_text().splitlines()[1:]
    assert [r.split(",")[3] for r in rows] == ['"View"', '"Impression"']
    ingest(tmp_path / "out", tmp_path / "again")
    assert _plain(open_interactions(tmp_path / "again").to_table()).equals(
        _plain(open_interactions(tmp_path / "canon").to_table())
    )


def test_export_refuses_what_personalize_would_read_otherwise_and_keeps_a_folder_whole(
    tmp_path: Path,
) -> None:
    ingest(_folder(tmp_path / "pz"), tmp_path / "canon")
    with pytest.raises(FileNotFoundError, match="not a canonical dataset"):
        export(tmp_path / "pz", tmp_path / "out")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        export(tmp_path / "canon", tmp_path / "out")
    items = pq.read_table(tmp_path / "canon" / s.ITEMS_FILE)
    pq.write_table(
        items.set_column(2, items.schema.field(2), pa.array(["a|b", "c", "d"])),
        tmp_path / "canon" / s.ITEMS_FILE,
    )
    with pytest.raises(ValueError, match=re.escape("items.parquet: category_l1 'a|b' holds '|'")):
        export(tmp_path / "canon", tmp_path / "out", overwrite=True)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- the spec field ------------------------------------------------------------------------------------
def test_event_types_name_the_canonical_event_types_and_default_to_the_usual_spellings() -> None:
    from typing import get_args

    from pydantic import ValidationError

    from recsys_workloads.contracts.data_sources import DEFAULT_EVENT_TYPES, DataSourcesSpec

    assert get_args(CanonicalEventType) == s.EVENT_TYPES  # the contracts' spelling is the schema's
    spec = DataSourcesSpec.model_validate({"layout": "personalize", "uri": "/data"})
    assert spec.event_types == DEFAULT_EVENT_TYPES and spec.problems() == []
    for shop, canonical in (("click", "View"), ("add-to-cart", "AddToCart"), ("checkout", "StartCheckout")):
        assert spec.event_types[shop] == canonical
    # What export writes (the canonical names) reads back under the default.
    folded = {k.casefold() for k in DEFAULT_EVENT_TYPES}
    assert {e.casefold() for e in s.EVENT_TYPES} <= folded
    with pytest.raises(ValidationError, match=r"eventTypes\.rate"):
        DataSourcesSpec.model_validate({"layout": "personalize", "uri": "/d", "eventTypes": {"rate": "Like"}})
    assert DataSourcesSpec.model_validate(spec.to_spec()) == spec


def test_a_spec_with_layout_personalize_prepares_the_canonical_dataset(tmp_path: Path) -> None:
    from recsys_workloads.contracts.data_sources import DataSourcesSpec
    from recsys_workloads.data.sources import prepare_canonical

    csv = f"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n1,p1,{T0},rate\n5,p9,{T0 + 1},rate\n"
    source = _folder(tmp_path / "pz", interactions=csv)
    spec = DataSourcesSpec.model_validate(
        {"layout": "personalize", "uri": str(source), "eventTypes": {"RATE": "Purchase"}}
    )
    summary = prepare_canonical(spec, tmp_path / "canon", tmp_path / "scratch")
    assert summary.layout == "personalize" and summary.unknown["dropped_interactions"] == 1
    assert [r[s.EVENT_TYPE] for r in _interactions(tmp_path / "canon")] == ["Purchase"]
