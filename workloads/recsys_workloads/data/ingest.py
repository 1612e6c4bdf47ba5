"""Read the seed's layout, the Retail Demo Store layout or Amazon Personalize CSVs into one canonical dataset.

Canonical dataset (what training reads):

    items.parquet                 ITEMS_SCHEMA
    users.parquet                 CANONICAL_USERS_SCHEMA
    item_descriptions.parquet     DESCRIPTIONS_SCHEMA
    interactions/day=NN/part-0.parquet   INTERACTIONS_SCHEMA, hive-partitioned by day
    images/<item_id>.png          when the source has images (under it or at `images`): the seed's
                                  <item_id>.png, or RDS products.yaml's `image` file name
    manifest.json                 source, layout, origin timestamp, counts

Output is written to a temporary folder beside the destination and renamed into place
only when every file validated, so a failed ingest leaves nothing behind.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import ValidationError

from recsys_workloads.contracts.data_sources import CanonicalEventType, UnknownItems, UnknownUsers
from recsys_workloads.data import schema as s
from recsys_workloads.data.catalog import load_rds_products
from recsys_workloads.data.errors import DataValidationError
from recsys_workloads.data.unknown_ids import UnknownIds
from recsys_workloads.data.validate import (
    as_dict_strings,
    check_columns,
    check_in,
    check_known,
    check_no_nulls,
    check_numeric,
    check_present,
    check_timestamps,
    check_unique,
    first_false,
    parse_flag,
    parse_unix_seconds,
)
from recsys_workloads.folders import staged_folder

Layout = Literal["auto", "seed", "rds", "personalize"]
DAY_FILE = re.compile(r"^day_(\d+)\.parquet$")
RDS_COLUMNS = ("ITEM_ID", "USER_ID", "EVENT_TYPE", "TIMESTAMP")


@dataclass
class IngestSummary:
    layout: str
    items: int = 0
    users: int = 0
    interactions: int = 0
    days: list[int] = field(default_factory=list)
    destination: Path | None = None
    # What the unknown-id policy did (UnknownIds.counts): users kept without a profile, rows dropped.
    unknown: dict[str, int] = field(default_factory=dict)
    images: int = 0  # items with a picture in the dataset's images/

    def unknown_note(self) -> str:
        """', 2 users without a profile kept, 5 rows of 1 unknown item dropped' (empty: none)."""
        users = self.unknown.get("profile_less_users", 0)
        rows, items = self.unknown.get("dropped_interactions", 0), self.unknown.get("unknown_items", 0)
        parts = [f"{users:,} users without a profile kept"] if users else []
        parts += [f"{rows:,} rows of {items:,} unknown items dropped"] if rows else []
        return "".join(f", {p}" for p in parts)


class _Sink:
    """Where canonical files go: a temporary folder, or nowhere when only validating."""

    def __init__(self, root: Path | None, source: str | None = None) -> None:
        self.root = root
        self.source = source  # what the manifest names as the source (an s3:// uri that was staged)

    def table(self, name: str, table: pa.Table) -> None:
        if self.root is not None:
            pq.write_table(table, self.root / name)

    def day(self, day: int, table: pa.Table) -> None:
        if self.root is not None:
            folder = self.root / s.INTERACTIONS_DIR / s.day_partition_name(day)
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, folder / "part-0.parquet")

    def images(self, found: dict[str, Path]) -> None:
        """Each item's picture as images/<item_id>.png (the bytes as they are: decoders sniff the format)."""
        if self.root is not None and found:
            folder = self.root / s.IMAGES_DIR
            folder.mkdir()
            for item_id, path in found.items():
                shutil.copyfile(path, folder / f"{item_id}.png")

    def manifest(self, content: dict[str, object]) -> None:
        if self.root is not None:
            if self.source is not None:
                content = {**content, "source": self.source}
            (self.root / s.MANIFEST_FILE).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def detect_layout(source: Path) -> Literal["seed", "rds", "personalize"]:
    if not source.is_dir():
        raise DataValidationError(str(source), "not a directory")
    if (source / "products.yaml").exists():
        return "rds"
    from recsys_workloads.data.personalize import is_personalize  # it imports this module

    if is_personalize(source):
        return "personalize"
    if (source / s.ITEMS_FILE).exists() and any(DAY_FILE.match(p.name) for p in source.iterdir()):
        return "seed"
    raise DataValidationError(
        str(source),
        "unrecognised layout: expected products.yaml (RDS), items.csv (Amazon Personalize) "
        "or items.parquet + day_NN.parquet (seed)",
    )


def item_images(
    folder: Path | None, candidates: dict[str, list[str]], *, explicit: bool = False
) -> dict[str, Path]:
    """The picture of each item found in `folder`: the first of its candidate names that exists.

    `explicit`: the folder was named in the spec (imagesUri), so its absence is an error, not
    "no images"; items without a picture get the image encoder's empty-image path either way.
    """
    if folder is None or not folder.is_dir():
        if explicit and folder is not None:
            raise DataValidationError(str(folder), "images folder is missing")
        return {}
    found = {}
    for item_id, names in candidates.items():
        path = next((folder / n for n in names if (folder / n).is_file()), None)
        if path is not None:
            found[item_id] = path
    if explicit and not found:
        raise DataValidationError(str(folder), "no image of any catalog item (expected <item_id>.png)")
    return found


# --- shared normalisation ---------------------------------------------------------------------
def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataValidationError(str(path), f"cannot read parquet ({exc})") from None


def _text(column: pa.ChunkedArray | pa.Array, file: str, name: str) -> pa.Array:
    return pc.cast(as_dict_strings(column, file, name), pa.string())


def canonical_items(table: pa.Table, file: str) -> pa.Table:
    check_columns(table.schema, s.REQUIRED_ITEM_COLUMNS, file)
    n = len(table)
    item_id = _text(table[s.ITEM_ID], file, s.ITEM_ID)
    check_no_nulls(item_id, file, s.ITEM_ID)
    check_unique(item_id, file, s.ITEM_ID)
    for name in (s.CATEGORY_L1, s.CATEGORY_L2):
        check_no_nulls(table[name], file, name)
    check_numeric(table[s.PRICE], file, s.PRICE, integer=False)
    check_no_nulls(table[s.PRICE], file, s.PRICE)
    bad_price = first_false(pc.greater_equal(table[s.PRICE], 0))
    if bad_price is not None:
        raise DataValidationError(file, "price must not be negative", row=bad_price + 1, column=s.PRICE)
    gender = _text(table[s.ITEM_GENDER], file, s.ITEM_GENDER)
    check_in(gender, s.ITEM_GENDERS, file, s.ITEM_GENDER)

    def optional(name: str, default: pa.Array) -> pa.Array:
        return table[name].combine_chunks() if name in table.schema.names else default

    first_day = optional(s.FIRST_DAY, pa.array(np.zeros(n, np.int16)))
    check_numeric(first_day, file, s.FIRST_DAY, integer=True)
    return pa.table(
        {
            s.ITEM_ID: item_id,
            s.NAME: pc.cast(optional(s.NAME, pa.nulls(n, pa.string())), pa.string()),
            s.CATEGORY_L1: _text(table[s.CATEGORY_L1], file, s.CATEGORY_L1),
            s.CATEGORY_L2: _text(table[s.CATEGORY_L2], file, s.CATEGORY_L2),
            s.PRICE: pc.cast(table[s.PRICE], pa.float64()).combine_chunks(),
            s.ITEM_GENDER: gender,
            s.PROMOTED: pc.cast(optional(s.PROMOTED, pa.array(np.zeros(n, bool))), pa.bool_()),
            s.FIRST_DAY: pc.cast(pc.fill_null(first_day, 0), pa.int16()),
        },
        schema=s.ITEMS_SCHEMA,
    )


def canonical_users(table: pa.Table, file: str) -> pa.Table:
    check_columns(table.schema, s.REQUIRED_USER_COLUMNS, file)
    n = len(table)
    user_id = _text(table[s.USER_ID], file, s.USER_ID)
    check_no_nulls(user_id, file, s.USER_ID)
    check_unique(user_id, file, s.USER_ID)
    if not pa.types.is_null(table[s.AGE].type):
        check_numeric(table[s.AGE], file, s.AGE, integer=True)
    gender = _text(table[s.GENDER], file, s.GENDER)
    check_in(gender, ("M", "F"), file, s.GENDER, nullable=True)

    def optional(name: str, type_: pa.DataType) -> pa.Array:
        if name in table.schema.names:
            return pc.cast(table[name].combine_chunks(), type_)
        return pa.nulls(n, type_)

    return pa.table(
        {
            s.USER_ID: user_id,
            s.AGE: pc.cast(table[s.AGE], pa.int16()).combine_chunks(),
            s.GENDER: gender,
            s.FIRST_DAY: optional(s.FIRST_DAY, pa.int16()),
            s.PERSONA: optional(s.PERSONA, pa.string()),
            s.DISCOUNT_PERSONA: optional(s.DISCOUNT_PERSONA, pa.string()),
        },
        schema=s.CANONICAL_USERS_SCHEMA,
    )


def canonical_interactions(table: pa.Table, file: str) -> pa.Table:
    """Checked, typed interactions; optional columns are filled with nulls or derived.

    Ids are not checked against the catalog and profiles here: `UnknownIds` applies the spec's policy.
    """
    check_columns(table.schema, s.REQUIRED_INTERACTION_COLUMNS, file)
    n = len(table)
    item_id = as_dict_strings(table[s.ITEM_ID], file, s.ITEM_ID)
    check_no_nulls(item_id, file, s.ITEM_ID)
    user_id = as_dict_strings(table[s.USER_ID], file, s.USER_ID)
    check_numeric(table[s.TIMESTAMP], file, s.TIMESTAMP, integer=True)
    check_no_nulls(table[s.TIMESTAMP], file, s.TIMESTAMP)
    event = as_dict_strings(table[s.EVENT_TYPE], file, s.EVENT_TYPE)
    check_no_nulls(event, file, s.EVENT_TYPE)
    check_in(event, s.EVENT_TYPES, file, s.EVENT_TYPE)
    device = as_dict_strings(table[s.DEVICE_TYPE], file, s.DEVICE_TYPE)
    check_in(device, s.DEVICE_TYPES, file, s.DEVICE_TYPE, nullable=True)
    names = table.schema.names
    anonymous = (
        as_dict_strings(table[s.ANONYMOUS_ID], file, s.ANONYMOUS_ID)
        if s.ANONYMOUS_ID in names
        else pa.nulls(n, s.DICT_STRING)
    )
    if s.SESSION_ID in names:
        check_numeric(table[s.SESSION_ID], file, s.SESSION_ID, integer=True)
        session = pc.cast(table[s.SESSION_ID], pa.int64()).combine_chunks()
    else:
        session = pa.nulls(n, pa.int64())
    discount = (
        pc.cast(table[s.DISCOUNT], pa.bool_()).combine_chunks()
        if s.DISCOUNT in names
        else pa.nulls(n, pa.bool_())
    )
    clicked = pc.not_equal(pc.cast(event, pa.string()), s.EventType.IMPRESSION.value)
    return pa.Table.from_arrays(
        [
            user_id,
            anonymous,
            session,
            item_id,
            pc.cast(table[s.TIMESTAMP], pa.int64()).combine_chunks(),
            device,
            event,
            clicked,
            discount,
        ],
        schema=s.INTERACTIONS_SCHEMA,
    )


# --- the seed's layout ---------------------------------------------------------------------------
def _seed_day_files(source: Path) -> list[tuple[int, Path]]:
    days = sorted((int(m.group(1)), p) for p in source.iterdir() if (m := DAY_FILE.match(p.name)))
    seen: set[int] = set()
    for day, path in days:
        if day in seen:
            raise DataValidationError(str(path), f"a second file for day {day}")
        seen.add(day)
    return days


def _ingest_seed(
    source: Path,
    sink: _Sink,
    images: Path | None,
    policy: _Policy,
    on_day: Callable[[int], None] | None,
) -> IngestSummary:
    summary = IngestSummary(layout="seed")
    items = canonical_items(_read_parquet(source / s.ITEMS_FILE), str(source / s.ITEMS_FILE))
    users_path = source / s.USERS_FILE
    if not users_path.exists():
        raise DataValidationError(str(users_path), "file is missing")
    users = canonical_users(_read_parquet(users_path), str(users_path))
    descriptions_path = source / s.DESCRIPTIONS_FILE
    if descriptions_path.exists():
        table = _read_parquet(descriptions_path)
        check_columns(table.schema, s.REQUIRED_DESCRIPTION_COLUMNS, str(descriptions_path))
        desc_ids = _text(table[s.ITEM_ID], str(descriptions_path), s.ITEM_ID)
        check_known(desc_ids, items[s.ITEM_ID].combine_chunks(), str(descriptions_path), s.ITEM_ID, "item")
        descriptions = pa.table(
            {s.ITEM_ID: desc_ids, s.PRODUCT_DESCRIPTION: pc.cast(table[s.PRODUCT_DESCRIPTION], pa.string())},
            schema=s.DESCRIPTIONS_SCHEMA,
        )
    else:
        descriptions = pa.table(
            {s.ITEM_ID: items[s.ITEM_ID], s.PRODUCT_DESCRIPTION: pa.nulls(len(items), pa.string())},
            schema=s.DESCRIPTIONS_SCHEMA,
        )
    unknown = UnknownIds(items[s.ITEM_ID].combine_chunks(), users[s.USER_ID].combine_chunks(), *policy)
    origin: int | None = None
    for day, path in _seed_day_files(source):
        table = unknown.apply(canonical_interactions(_read_parquet(path), str(path)), str(path))
        timestamps = table[s.TIMESTAMP]
        check_timestamps(timestamps, str(path), s.TIMESTAMP)
        if origin is None and len(table):
            first = int(pc.min(timestamps).as_py())
            origin = first - first % s.SECONDS_PER_DAY - day * s.SECONDS_PER_DAY
        if origin is not None:
            low = origin + day * s.SECONDS_PER_DAY
            check_timestamps(
                timestamps,
                str(path),
                s.TIMESTAMP,
                low=low,
                high=low + s.SECONDS_PER_DAY,
                what=f"day {day:02d}",
            )
        sink.day(day, table)
        summary.interactions += len(table)
        summary.days.append(day)
        if on_day is not None:
            on_day(day)
    users = unknown.users_table(users)
    sink.table(s.ITEMS_FILE, items)
    sink.table(s.USERS_FILE, users)
    sink.table(s.DESCRIPTIONS_FILE, descriptions)
    pictures = item_images(
        images or source / s.IMAGES_DIR,
        {i: [f"{i}.png"] for i in items[s.ITEM_ID].to_pylist()},
        explicit=images is not None,
    )
    sink.images(pictures)
    summary.images = len(pictures)
    summary.items, summary.users, summary.unknown = len(items), len(users), unknown.counts()
    sink.manifest({"layout": "seed", "source": str(source), "origin_timestamp": origin, **_counts(summary)})
    return summary


# --- the Retail Demo Store layout ----------------------------------------------------------------
def load_rds_users(path: Path) -> list[s.RdsUser]:
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            raw = json.load(fh)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataValidationError(str(path), f"not valid JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(raw, list):
        raise DataValidationError(str(path), "expected a JSON list of users")
    users: list[s.RdsUser] = []
    seen: dict[str, int] = {}
    for row, record in enumerate(raw, start=1):
        if not isinstance(record, dict):
            raise DataValidationError(str(path), "expected an object", row=row)
        try:
            user = s.RdsUser.model_validate(record)
        except ValidationError as exc:
            err = exc.errors()[0]
            column = str(err["loc"][0]) if err["loc"] else None
            raise DataValidationError(str(path), err["msg"], row=row, column=column) from None
        key = str(user.id)
        if key in seen:
            raise DataValidationError(
                str(path), f"duplicate id {key!r} (first at row {seen[key]})", row=row, column="id"
            )
        seen[key] = row
        users.append(user)
    return users


def rds_users_files(source: Path) -> list[Path]:
    """Every users file the RDS generator writes (users.json, cstore_users.json, ...), users.json first."""
    found = sorted(
        p
        for p in source.iterdir()
        if "users" in p.name and p.name.endswith((".json", ".json.gz")) and p.is_file()
    )
    if not found:
        raise DataValidationError(str(source / "users.json[.gz]"), "file is missing")
    return sorted(found, key=lambda p: not p.name.startswith("users.json"))


def load_all_rds_users(source: Path) -> list[s.RdsUser]:
    """The users of every users file, merged by id (ids compared as text: 7 and "7" are one user).

    The same user in two files (an export written twice) is kept once; the same id with other
    attributes is refused, naming both places.
    """
    merged: dict[str, tuple[s.RdsUser, Path, int]] = {}
    for path in rds_users_files(source):
        for row, user in enumerate(load_rds_users(path), start=1):
            key = str(user.id)
            first = merged.get(key)
            if first is None:
                merged[key] = (user, path, row)
            elif first[0].model_dump(exclude={"id"}) != user.model_dump(exclude={"id"}):
                raise DataValidationError(
                    str(path),
                    f"user id {key!r} is also in {first[1].name} (row {first[2]}) with other attributes",
                    row=row,
                    column="id",
                )
    return [user for user, _, _ in merged.values()]


def read_rds_interactions(path: Path) -> pa.Table:
    """RDS interactions CSV → canonical interactions (device and session unknown: null).

    Ids are not checked against the catalog and profiles here: `UnknownIds` applies the spec's policy.
    """
    file = str(path)
    try:
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in (*RDS_COLUMNS, "DISCOUNT")}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise DataValidationError(file, f"cannot parse CSV ({exc})") from None
    check_columns(table.schema, RDS_COLUMNS, file)
    for name in ("TIMESTAMP", "ITEM_ID", "USER_ID", "EVENT_TYPE"):
        check_present(table[name], file, name)
    timestamps = parse_unix_seconds(table["TIMESTAMP"], file, "TIMESTAMP")
    check_in(table["EVENT_TYPE"], s.INTERACTION_TYPES, file, "EVENT_TYPE")
    n = len(table)
    if "DISCOUNT" in table.schema.names:
        discount = parse_flag(table["DISCOUNT"], file, "DISCOUNT")
    else:
        discount = pa.nulls(n, pa.bool_())
    return pa.Table.from_arrays(
        [
            as_dict_strings(table["USER_ID"], file, "USER_ID"),
            pa.nulls(n, s.DICT_STRING),
            pa.nulls(n, pa.int64()),
            as_dict_strings(table["ITEM_ID"], file, "ITEM_ID"),
            timestamps.combine_chunks() if isinstance(timestamps, pa.ChunkedArray) else timestamps,
            pa.nulls(n, s.DICT_STRING),
            as_dict_strings(table["EVENT_TYPE"], file, "EVENT_TYPE"),
            pa.array(np.ones(n, dtype=bool)),
            pc.cast(discount, pa.bool_()).combine_chunks()
            if isinstance(discount, pa.ChunkedArray)
            else discount,
        ],
        schema=s.INTERACTIONS_SCHEMA,
    )


def _rds_interaction_files(source: Path, interactions: Path | None) -> list[Path]:
    if interactions is not None:
        if not interactions.exists():
            raise DataValidationError(str(interactions), "file is missing")
        return [interactions]
    return sorted(p for p in source.iterdir() if p.name.endswith((".csv", ".csv.gz")))


def _ingest_rds(
    source: Path,
    sink: _Sink,
    interactions: Path | None,
    images: Path | None,
    policy: _Policy,
    on_day: Callable[[int], None] | None,
) -> IngestSummary:
    summary = IngestSummary(layout="rds")
    products = load_rds_products(source / "products.yaml")
    items = pa.table(
        {
            s.ITEM_ID: [p.id for p in products],
            s.NAME: [p.name for p in products],
            s.CATEGORY_L1: [p.category for p in products],
            s.CATEGORY_L2: [p.style for p in products],
            s.PRICE: [p.price for p in products],
            s.ITEM_GENDER: [p.gender_affinity or "Any" for p in products],
            s.PROMOTED: [p.promoted for p in products],
            s.FIRST_DAY: pa.array(np.zeros(len(products), np.int16)),
        },
        schema=s.ITEMS_SCHEMA,
    )
    descriptions = pa.table(
        {s.ITEM_ID: [p.id for p in products], s.PRODUCT_DESCRIPTION: [p.description for p in products]},
        schema=s.DESCRIPTIONS_SCHEMA,
    )
    rds_users = load_all_rds_users(source)
    users = pa.table(
        {
            s.USER_ID: [str(u.id) for u in rds_users],
            s.AGE: pa.array([u.age for u in rds_users], pa.int16()),
            s.GENDER: [u.gender for u in rds_users],
            s.FIRST_DAY: pa.nulls(len(rds_users), pa.int16()),
            s.PERSONA: [u.persona for u in rds_users],
            s.DISCOUNT_PERSONA: [u.discount_persona for u in rds_users],
        },
        schema=s.CANONICAL_USERS_SCHEMA,
    )
    unknown = UnknownIds(items[s.ITEM_ID].combine_chunks(), users[s.USER_ID].combine_chunks(), *policy)
    tables = [
        unknown.apply(read_rds_interactions(p), str(p), "ITEM_ID", "USER_ID")
        for p in _rds_interaction_files(source, interactions)
    ]
    origin: int | None = None
    if tables and sum(len(t) for t in tables):
        events = pa.concat_tables(tables).unify_dictionaries()
        events = events.take(pc.sort_indices(events, [(s.TIMESTAMP, "ascending")]))
        origin = _write_days(events, sink, summary, on_day)
    users = unknown.users_table(users)
    sink.table(s.ITEMS_FILE, items)
    sink.table(s.USERS_FILE, users)
    sink.table(s.DESCRIPTIONS_FILE, descriptions)
    # The RDS catalog names each picture (`image`); its image store keeps them per category.
    pictures = item_images(
        images or source / s.IMAGES_DIR,
        {p.id: [f"{p.id}.png", *([p.image, f"{p.category}/{p.image}"] if p.image else [])] for p in products},
        explicit=images is not None,
    )
    sink.images(pictures)
    summary.images = len(pictures)
    summary.items, summary.users, summary.unknown = len(items), len(users), unknown.counts()
    sink.manifest({"layout": "rds", "source": str(source), "origin_timestamp": origin, **_counts(summary)})
    return summary


def _write_days(
    events: pa.Table, sink: _Sink, summary: IngestSummary, on_day: Callable[[int], None] | None
) -> int:
    """Time-sorted interactions into day partitions counted from the UTC midnight before the first."""
    ts = events[s.TIMESTAMP].to_numpy()
    origin = int(ts[0] - ts[0] % s.SECONDS_PER_DAY)
    day_of = (ts - origin) // s.SECONDS_PER_DAY
    for day, start, stop in _runs(day_of):
        sink.day(day, events.slice(start, stop - start))
        summary.days.append(day)
        if on_day is not None:
            on_day(day)
    summary.interactions = len(events)
    return origin


# --- the Amazon Personalize layout (data/personalize.py reads it) ----------------------------------
def _ingest_personalize(
    source: Path,
    sink: _Sink,
    interactions: Path | None,
    images: Path | None,
    policy: _Policy,
    event_types: Mapping[str, CanonicalEventType] | None,
    on_day: Callable[[int], None] | None,
) -> IngestSummary:
    from recsys_workloads.data import personalize  # it imports this module

    summary = IngestSummary(layout="personalize")
    data = personalize.read(
        source,
        interactions=interactions,
        unknown_users=policy[0],
        unknown_items=policy[1],
        event_types=event_types,
    )
    if len(data.interactions):
        _write_days(data.interactions, sink, summary, on_day)
    sink.table(s.ITEMS_FILE, data.items)
    sink.table(s.USERS_FILE, data.users)
    sink.table(s.DESCRIPTIONS_FILE, data.descriptions)
    pictures = item_images(
        images or source / s.IMAGES_DIR,
        {i: [f"{i}.png"] for i in data.items[s.ITEM_ID].to_pylist()},
        explicit=images is not None,
    )
    sink.images(pictures)
    summary.images = len(pictures)
    summary.items, summary.users, summary.unknown = len(data.items), len(data.users), data.unknown.counts()
    sink.manifest(
        {"layout": "personalize", "source": str(source), "origin_timestamp": data.origin, **_counts(summary)}
    )
    return summary


def _runs(values: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(value, start, stop) of each run in a sorted array."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(values)) + 1])
    stops = np.concatenate([starts[1:], [len(values)]])
    for start, stop in zip(starts, stops, strict=True):
        yield int(values[start]), int(start), int(stop)


def _counts(summary: IngestSummary) -> dict[str, object]:
    return {
        "items": summary.items,
        "users": summary.users,
        "interactions": summary.interactions,
        "days": summary.days,
        "images": summary.images,
        **summary.unknown,
    }


# --- entry points ----------------------------------------------------------------------------------
_Policy = tuple[UnknownUsers, UnknownItems]


def _run(
    source: Path,
    sink: _Sink,
    layout: Layout,
    paths: tuple[Path | None, Path | None],
    policy: _Policy,
    event_types: Mapping[str, CanonicalEventType] | None,
    on_day: Callable[[int], None] | None,
) -> IngestSummary:
    chosen = detect_layout(source) if layout == "auto" else layout
    interactions, images = paths
    if chosen == "personalize":
        return _ingest_personalize(source, sink, interactions, images, policy, event_types, on_day)
    if chosen == "rds":
        return _ingest_rds(source, sink, interactions, images, policy, on_day)
    return _ingest_seed(source, sink, images, policy, on_day)


def validate(
    source: Path,
    *,
    layout: Layout = "auto",
    interactions: Path | None = None,
    images: Path | None = None,
    unknown_users: UnknownUsers = "profile-less",
    unknown_items: UnknownItems = "drop",
    event_types: Mapping[str, CanonicalEventType] | None = None,
    on_day: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Every check `ingest` makes, writing nothing."""
    policy: _Policy = (unknown_users, unknown_items)
    return _run(source, _Sink(None), layout, (interactions, images), policy, event_types, on_day)


def ingest(
    source: Path,
    destination: Path,
    *,
    layout: Layout = "auto",
    interactions: Path | None = None,
    images: Path | None = None,
    overwrite: bool = False,
    unknown_users: UnknownUsers = "profile-less",
    unknown_items: UnknownItems = "drop",
    event_types: Mapping[str, CanonicalEventType] | None = None,
    on_day: Callable[[int], None] | None = None,
    source_name: str | None = None,
) -> IngestSummary:
    """Validate `source` and write the canonical dataset to `destination`, all or nothing.

    `images`: the item pictures' folder when not `source`/images; `source_name`: what the
    manifest records as the source (the s3:// uri a staged `source` came from).
    """
    destination = destination.resolve()
    with staged_folder(destination, overwrite=overwrite, purpose="ingest") as tmp:
        policy: _Policy = (unknown_users, unknown_items)
        summary = _run(
            source, _Sink(tmp, source_name), layout, (interactions, images), policy, event_types, on_day
        )
    summary.destination = destination
    return summary


def open_interactions(dataset: Path) -> ds.Dataset:
    """The canonical interactions as a pyarrow dataset with an int16 `day` column."""
    return ds.dataset(
        dataset / s.INTERACTIONS_DIR,
        format="parquet",
        partitioning=ds.partitioning(s.DAY_PARTITIONING_SCHEMA, flavor="hive"),
    )
