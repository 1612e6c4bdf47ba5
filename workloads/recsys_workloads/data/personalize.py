"""The Amazon Personalize layout: its three dataset CSVs, read into the canonical dataset and written back.

What Personalize documents, and what this module does with it:

    interactions*.csv   USER_ID, ITEM_ID, TIMESTAMP (unix seconds) required; reserved EVENT_TYPE,
                        EVENT_VALUE (float), IMPRESSION (item ids shown, '|'-separated),
                        RECOMMENDATION_ID, EVENT_ATTRIBUTION_SOURCE; any other column is context.
    items.csv           ITEM_ID + metadata; reserved PRICE, CATEGORY_L1..L3 (categorical: '|' multi-values),
                        CREATION_TIMESTAMP, PRODUCT_DESCRIPTION (textual), AGE_GROUP, ADULT, GENDER.
    users.csv           USER_ID + metadata (categorical or numeric).

Column names are compared without regard to case, as Personalize does. Canonical mapping: EVENT_TYPE
through `spec.dataSources.eventTypes` (a missing column means every row is a View); each item of an
IMPRESSION other than the row's own becomes an `Impression` row (clicked false) beside it; the context
columns DEVICE (or DEVICE_TYPE), SESSION_ID, ANONYMOUS_ID and DISCOUNT fill the canonical columns of the
same meaning, other context columns, EVENT_VALUE, RECOMMENDATION_ID and EVENT_ATTRIBUTION_SOURCE are
checked where Personalize types them and not used. Items: the first value of a multi-valued category,
CATEGORY_L2 falling back to CATEGORY_L1, GENDER M/F/Any (men/women/unisex too), NAME, PROMOTED,
DESCRIPTION or PRODUCT_DESCRIPTION; CREATION_TIMESTAMP becomes `first_day` counted from the dataset's
origin (the UTC midnight before the first interaction). Users: AGE, GENDER, PERSONA, DISCOUNT_PERSONA and
CREATION_TIMESTAMP (sign-up, as `first_day`). users.csv is optional: without it every user is
profile-less, which `unknownUsers` decides. Interactions are read in blocks (pyarrow's streaming CSV
reader), never row by row in Python.

`export` writes a canonical dataset as these CSVs (impressions folded into the IMPRESSION of the View
they were shown beside); ingesting the export gives the same canonical dataset.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from recsys_workloads.contracts.data_sources import (
    DEFAULT_EVENT_TYPES,
    CanonicalEventType,
    UnknownItems,
    UnknownUsers,
)
from recsys_workloads.data import schema as s
from recsys_workloads.data.errors import DataValidationError
from recsys_workloads.data.ingest import open_interactions
from recsys_workloads.data.unknown_ids import UnknownIds
from recsys_workloads.data.validate import (
    as_dict_strings,
    check_columns,
    check_in,
    check_present,
    check_unique,
    first_false,
    parse_flag,
    parse_integers,
    parse_numbers,
    parse_unix_seconds,
)
from recsys_workloads.folders import staged_folder

ITEMS_CSV: Final = "items.csv"
USERS_CSV: Final = "users.csv"
INTERACTIONS_CSV: Final = "interactions.csv"
MULTI: Final = "|"
# Personalize field names are Avro names.
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

INTERACTION_REQUIRED: Final = ("USER_ID", "ITEM_ID", "TIMESTAMP")
ITEM_REQUIRED: Final = ("ITEM_ID", "CATEGORY_L1", "PRICE")  # price and category are model features
USER_REQUIRED: Final = ("USER_ID",)
DEVICE_COLUMNS: Final = ("DEVICE", "DEVICE_TYPE")
DESCRIPTION_COLUMNS: Final = ("DESCRIPTION", "PRODUCT_DESCRIPTION")
ITEM_GENDER_WORDS: Final[dict[str, str]] = {
    "m": "M", "male": "M", "men": "M", "man": "M",
    "f": "F", "female": "F", "women": "F", "woman": "F",
    "any": "Any", "unisex": "Any",
}  # fmt: skip
USER_GENDER_WORDS: Final[dict[str, str]] = {"m": "M", "male": "M", "f": "F", "female": "F"}
BLOCK_SIZE: Final = 16 << 20
_MIN_AGE, _MAX_AGE = 0, 130


# --- reading a CSV as Personalize does -----------------------------------------------------------
def _header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            line = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataValidationError(str(path), f"cannot read CSV ({exc.__class__.__name__}: {exc})") from None
    if not line.strip():
        raise DataValidationError(str(path), "empty file: expected a header row")
    names = next(csv.reader(io.StringIO(line)))
    seen: dict[str, str] = {}
    for name in names:
        if not FIELD_NAME.match(name.strip()):
            raise DataValidationError(
                str(path), "not a Personalize field name (letters, digits, underscores)", column=name
            )
        key = name.strip().upper()
        if key in seen:
            raise DataValidationError(
                str(path),
                f"column {seen[key]!r} appears twice (names are compared without regard to case)",
                column=name,
            )
        seen[key] = name
    return list(seen)


def _options(path: Path) -> tuple[pacsv.ReadOptions, pacsv.ConvertOptions]:
    names = _header(path)
    read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_SIZE)
    # Everything is text first, parsed by the checks below; an unquoted empty field is null.
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    return read, convert


def _batches(path: Path) -> Iterator[tuple[int, pa.Table]]:
    """(rows before this block, block) of a CSV, upper-cased column names, every column text."""
    read, convert = _options(path)
    offset = 0
    try:
        reader = pacsv.open_csv(path, read_options=read, convert_options=convert)
        for batch in reader:
            table = pa.Table.from_batches([batch])
            yield offset, table
            offset += len(table)
    except pa.ArrowInvalid as exc:
        raise DataValidationError(str(path), f"cannot parse CSV ({exc})") from None


def _read_all(path: Path) -> pa.Table:
    read, convert = _options(path)
    try:
        return pacsv.read_csv(path, read_options=read, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise DataValidationError(str(path), f"cannot parse CSV ({exc})") from None


class _Rows:
    """Re-raises a block's DataValidationError with the row counted from the start of the file."""

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, DataValidationError) and exc.row is not None and self.offset:
            raise DataValidationError(
                exc.file, exc.message, row=exc.row + self.offset, column=exc.column
            ) from None


def _first_value(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The first of a categorical field's '|'-separated values, trimmed; empty → null."""
    first = pc.utf8_trim_whitespace(pc.list_element(pc.split_pattern(column, MULTI, max_splits=1), 0))
    return pc.if_else(pc.equal(first, ""), pa.scalar(None, pa.string()), first)


def _one_of(
    column: pa.Array | pa.ChunkedArray, words: Mapping[str, str], file: str, name: str
) -> pa.Array | pa.ChunkedArray:
    """Text spelled any of `words` (any case) as the canonical spelling; empty → null."""
    lower = pc.utf8_lower(pc.utf8_trim_whitespace(column))
    lower = pc.if_else(pc.equal(lower, ""), pa.scalar(None, pa.string()), lower)
    keys = list(words)
    check_in(lower, keys, file, name, nullable=True)
    index = pc.index_in(lower, value_set=pa.array(keys))
    return pc.take(pa.array([words[k] for k in keys], pa.string()), index)


def _day_of(seconds: pa.Array | pa.ChunkedArray, origin: int | None, default: int | None) -> pa.Array:
    """Days from `origin` (before it: day 0), int16; null seconds give `default`."""
    values = seconds.to_numpy(zero_copy_only=False)
    mask = np.isnan(values.astype(np.float64)) if len(values) else np.zeros(0, bool)
    if origin is None:
        days = np.zeros(len(values), np.int64)
    else:
        days = np.clip((np.nan_to_num(values.astype(np.float64)) - origin) // s.SECONDS_PER_DAY, 0, 32_767)
    if default is None:
        return pa.array(days.astype(np.int16), pa.int16(), mask=mask)
    return pa.array(np.where(mask, default, days).astype(np.int16), pa.int16())


# --- items and users ------------------------------------------------------------------------------
@dataclass
class Catalog:
    """items.csv read: canonical items and descriptions, and what `first_day` is computed from."""

    items: pa.Table
    descriptions: pa.Table
    created: pa.Array  # int64 unix seconds or null, row by row

    def with_origin(self, origin: int | None) -> pa.Table:
        days = _day_of(self.created, origin, default=0)
        index = self.items.schema.get_field_index(s.FIRST_DAY)
        return self.items.set_column(index, self.items.schema.field(index), days)


def read_items(path: Path) -> Catalog:
    file = str(path)
    table = _read_all(path)
    check_columns(table.schema, ITEM_REQUIRED, file)
    names = table.schema.names
    for name in ("ITEM_ID", "CATEGORY_L1", "PRICE"):
        check_present(table[name], file, name)
    item_id = pc.utf8_trim_whitespace(table["ITEM_ID"])
    check_unique(item_id, file, "ITEM_ID")
    row = first_false(pc.invert(pc.match_substring(item_id, MULTI)))
    if row is not None:  # IMPRESSION lists item ids with it
        raise DataValidationError(
            file, f"an item id must not contain {MULTI!r}", row=row + 1, column="ITEM_ID"
        )
    price = parse_numbers(table["PRICE"], file, "PRICE")
    bad = first_false(pc.greater_equal(price, 0))
    if bad is not None:
        raise DataValidationError(file, "price must not be negative", row=bad + 1, column="PRICE")
    l1 = _first_value(table["CATEGORY_L1"])
    check_present(l1, file, "CATEGORY_L1")
    l2 = pc.coalesce(_first_value(table["CATEGORY_L2"]), l1) if "CATEGORY_L2" in names else l1
    n = len(table)
    gender = (
        pc.fill_null(_one_of(_first_gender(table["GENDER"]), ITEM_GENDER_WORDS, file, "GENDER"), "Any")
        if "GENDER" in names
        else pa.array(["Any"] * n, pa.string())
    )
    promoted = (
        pc.fill_null(parse_flag(table["PROMOTED"], file, "PROMOTED"), False)
        if "PROMOTED" in names
        else pa.array(np.zeros(n, bool))
    )
    created = (
        parse_unix_seconds(table["CREATION_TIMESTAMP"], file, "CREATION_TIMESTAMP", fraction=True)
        if "CREATION_TIMESTAMP" in names
        else pa.nulls(n, pa.int64())
    )
    described = [c for c in DESCRIPTION_COLUMNS if c in names]
    if len(described) > 1:
        raise DataValidationError(
            file, "two textual description fields; keep one", column=", ".join(described)
        )
    description = table[described[0]] if described else pa.nulls(n, pa.string())
    items = pa.table(
        {
            s.ITEM_ID: item_id,
            s.NAME: table["NAME"] if "NAME" in names else pa.nulls(n, pa.string()),
            s.CATEGORY_L1: l1,
            s.CATEGORY_L2: l2,
            s.PRICE: price,
            s.ITEM_GENDER: gender,
            s.PROMOTED: promoted,
            s.FIRST_DAY: pa.array(np.zeros(n, np.int16)),
        },
        schema=s.ITEMS_SCHEMA,
    )
    descriptions = pa.table(
        {s.ITEM_ID: item_id, s.PRODUCT_DESCRIPTION: description}, schema=s.DESCRIPTIONS_SCHEMA
    )
    return Catalog(items.combine_chunks(), descriptions.combine_chunks(), _flat(created))


def _first_gender(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """'M|F' (an item for both) is Any; a single value is itself."""
    both = pc.greater(pc.list_value_length(pc.split_pattern(column, MULTI)), 1)
    return pc.if_else(pc.fill_null(both, False), "Any", column)


@dataclass
class Profiles:
    users: pa.Table
    created: pa.Array

    def with_origin(self, origin: int | None) -> pa.Table:
        days = _day_of(self.created, origin, default=None)
        index = self.users.schema.get_field_index(s.FIRST_DAY)
        return self.users.set_column(index, self.users.schema.field(index), days)


def read_users(path: Path | None) -> Profiles:
    if path is None:
        return Profiles(s.CANONICAL_USERS_SCHEMA.empty_table(), pa.array([], pa.int64()))
    file = str(path)
    table = _read_all(path)
    check_columns(table.schema, USER_REQUIRED, file)
    names = table.schema.names
    check_present(table["USER_ID"], file, "USER_ID")
    user_id = pc.utf8_trim_whitespace(table["USER_ID"])
    check_unique(user_id, file, "USER_ID")
    n = len(table)
    if "AGE" in names:
        age = parse_integers(table["AGE"], file, "AGE")
        bad = first_false(
            pc.or_kleene(
                pc.and_(pc.greater_equal(age, _MIN_AGE), pc.less_equal(age, _MAX_AGE)), pc.is_null(age)
            )
        )
        if bad is not None:
            raise DataValidationError(
                file, f"age {age[bad].as_py()} is outside {_MIN_AGE}..{_MAX_AGE}", row=bad + 1, column="AGE"
            )
    else:
        age = pa.nulls(n, pa.int64())

    def text(name: str) -> pa.Array | pa.ChunkedArray:
        return table[name] if name in names else pa.nulls(n, pa.string())

    users = pa.table(
        {
            s.USER_ID: user_id,
            s.AGE: pc.cast(age, pa.int16()),
            s.GENDER: _one_of(table["GENDER"], USER_GENDER_WORDS, file, "GENDER")
            if "GENDER" in names
            else pa.nulls(n, pa.string()),
            s.FIRST_DAY: pa.nulls(n, pa.int16()),
            s.PERSONA: text("PERSONA"),
            s.DISCOUNT_PERSONA: text("DISCOUNT_PERSONA"),
        },
        schema=s.CANONICAL_USERS_SCHEMA,
    )
    created = (
        parse_unix_seconds(table["CREATION_TIMESTAMP"], file, "CREATION_TIMESTAMP", fraction=True)
        if "CREATION_TIMESTAMP" in names
        else pa.nulls(n, pa.int64())
    )
    return Profiles(users.combine_chunks(), _flat(created))


def _flat(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


# --- interactions ---------------------------------------------------------------------------------
_ROW: Final = "__row"
_SHOWN: Final = "__impression"


class EventTypes:
    """The spec's eventTypes: shop strings (any case) → canonical event types."""

    def __init__(self, mapping: Mapping[str, CanonicalEventType]) -> None:
        folded = {k.strip().casefold(): v for k, v in mapping.items()}
        self.keys = pa.array(list(folded), pa.string())
        self.targets = pa.array(list(folded.values()), pa.string())
        self.shown = ", ".join(mapping)

    def canonical(self, column: pa.Array | pa.ChunkedArray, file: str) -> pa.Array:
        folded = pc.utf8_lower(pc.utf8_trim_whitespace(column))
        index = pc.index_in(folded, value_set=self.keys)
        row = first_false(pc.is_valid(index))
        if row is not None:
            raise DataValidationError(
                file,
                f"event type {column[row].as_py()!r} is not in spec.dataSources.eventTypes ({self.shown})",
                row=row + 1,
                column="EVENT_TYPE",
            )
        return _flat(pc.take(self.targets, index))


def _interactions_block(table: pa.Table, file: str, events: EventTypes) -> pa.Table:
    """One block of interactions CSV → canonical interactions plus the row number and IMPRESSION list."""
    check_columns(table.schema, INTERACTION_REQUIRED, file)
    names = table.schema.names
    n = len(table)
    for name in INTERACTION_REQUIRED:
        check_present(table[name], file, name)
    timestamp = parse_unix_seconds(table["TIMESTAMP"], file, "TIMESTAMP")
    if "EVENT_TYPE" in names:
        check_present(table["EVENT_TYPE"], file, "EVENT_TYPE")
        event = events.canonical(table["EVENT_TYPE"], file)
    else:
        event = pa.array([s.EventType.VIEW.value] * n, pa.string())
    if "EVENT_VALUE" in names:
        parse_numbers(table["EVENT_VALUE"], file, "EVENT_VALUE")  # typed as Personalize types it; not used
    devices = [c for c in DEVICE_COLUMNS if c in names]
    if len(devices) > 1:
        raise DataValidationError(file, "two device columns; keep one", column=", ".join(devices))
    if devices:
        device = pc.utf8_lower(pc.utf8_trim_whitespace(table[devices[0]]))
        check_in(device, s.DEVICE_TYPES, file, devices[0], nullable=True)
    else:
        device = pa.nulls(n, pa.string())
    session = (
        parse_integers(table["SESSION_ID"], file, "SESSION_ID")
        if "SESSION_ID" in names
        else pa.nulls(n, pa.int64())
    )
    discount = (
        parse_flag(table["DISCOUNT"], file, "DISCOUNT") if "DISCOUNT" in names else pa.nulls(n, pa.bool_())
    )
    user = pc.utf8_trim_whitespace(table["USER_ID"])
    if "ANONYMOUS_ID" in names:
        anonymous = pc.utf8_trim_whitespace(table["ANONYMOUS_ID"])
        anonymous = pc.if_else(pc.equal(anonymous, ""), pa.scalar(None, pa.string()), anonymous)
        user = pc.if_else(pc.is_valid(anonymous), pa.scalar(None, pa.string()), user)
    else:
        anonymous = pa.nulls(n, pa.string())
    item = pc.utf8_trim_whitespace(table["ITEM_ID"])
    shown = table["IMPRESSION"] if "IMPRESSION" in names else pa.nulls(n, pa.string())
    columns = [
        as_dict_strings(user, file, "USER_ID"),
        as_dict_strings(anonymous, file, "ANONYMOUS_ID"),
        _flat(session),
        as_dict_strings(item, file, "ITEM_ID"),
        _flat(timestamp),
        as_dict_strings(device, file, "DEVICE"),
        as_dict_strings(event, file, "EVENT_TYPE"),
        _flat(pc.not_equal(event, s.EventType.IMPRESSION.value)),
        _flat(pc.cast(discount, pa.bool_())),
    ]
    canonical = pa.Table.from_arrays(columns, schema=s.INTERACTIONS_SCHEMA)
    return canonical.append_column(_ROW, pa.array(np.arange(n, dtype=np.int64))).append_column(
        _SHOWN, _flat(shown)
    )


def _shown(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """(parent row index, item id) of each item of IMPRESSION other than its row's own item."""
    lists = pc.split_pattern(table[_SHOWN], MULTI)
    parent = pc.list_parent_indices(lists)
    shown = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    own = pc.take(pc.cast(table[s.ITEM_ID], pa.string()), parent)
    keep = pc.and_(pc.greater(pc.utf8_length(shown), 0), pc.not_equal(shown, own))
    return _flat(pc.filter(parent, keep)), _flat(pc.filter(shown, keep))


def _reject_unknown_items(table: pa.Table, file: str, known: pa.Array) -> None:
    """With unknownItems reject: the first row whose ITEM_ID or an IMPRESSION item is not in items.csv."""
    parent, shown = _shown(table)
    bad_shown = first_false(pc.is_in(shown, value_set=known))
    bad_item = first_false(pc.is_in(table[s.ITEM_ID], value_set=known))
    if bad_shown is None:
        return  # UnknownIds names a bad ITEM_ID
    row = int(parent[bad_shown].as_py())
    if bad_item is None or row < bad_item:
        raise DataValidationError(
            file,
            f"unknown item id {shown[bad_shown].as_py()!r} shown in the impression",
            row=row + 1,
            column="IMPRESSION",
        )


def _impressions(kept: pa.Table, file: str, unknown: UnknownIds) -> pa.Table:
    """The un-clicked items of each kept row's IMPRESSION as Impression rows (same user, session, time)."""
    parent, shown = _shown(kept)
    rows = kept.take(parent).drop_columns([_ROW, _SHOWN])
    n = len(rows)
    rows = rows.set_column(rows.schema.get_field_index(s.ITEM_ID), s.ITEM_ID, pc.dictionary_encode(shown))
    rows = rows.set_column(
        rows.schema.get_field_index(s.EVENT_TYPE),
        s.EVENT_TYPE,
        pa.array([s.EventType.IMPRESSION.value] * n, pa.string()).dictionary_encode(),
    )
    rows = rows.set_column(rows.schema.get_field_index(s.CLICKED), s.CLICKED, pa.array(np.zeros(n, bool)))
    return unknown.apply(pa.Table.from_arrays(rows.columns, schema=s.INTERACTIONS_SCHEMA), file, "IMPRESSION")


def read_interactions(path: Path, unknown: UnknownIds, events: EventTypes) -> list[pa.Table]:
    """Canonical interactions of one CSV, block by block, under the unknown-id policy."""
    file = str(path)
    out: list[pa.Table] = []
    for offset, block in _batches(path):
        with _Rows(offset):
            canonical = _interactions_block(block, file, events)
            if unknown.unknown_items == "reject":
                _reject_unknown_items(canonical, file, unknown.items)
            kept = unknown.apply(canonical, file, "ITEM_ID", "USER_ID")
            shown = _impressions(kept, file, unknown)
        if len(shown):  # before the row they were shown with, as the generator writes them
            out.append(shown)
        out.append(kept.drop_columns([_ROW, _SHOWN]))
    return out


# --- the folder -----------------------------------------------------------------------------------
def _one(source: Path, name: str, *, required: bool) -> Path | None:
    found = [p for p in (source / name, source / f"{name}.gz") if p.is_file()]
    if len(found) > 1:
        raise DataValidationError(str(found[1]), f"{found[0].name} is there too; keep one")
    if not found and required:
        raise DataValidationError(str(source / name), "file is missing")
    return found[0] if found else None


def interaction_files(source: Path, interactions: Path | None) -> list[Path]:
    if interactions is not None:
        if not interactions.is_file():
            raise DataValidationError(str(interactions), "file is missing")
        return [interactions]
    found = sorted(
        p
        for p in source.iterdir()
        if p.name.startswith("interactions") and p.name.endswith((".csv", ".csv.gz"))
    )
    if not found:
        raise DataValidationError(str(source / INTERACTIONS_CSV), "file is missing")
    return found


def is_personalize(source: Path) -> bool:
    return _one(source, ITEMS_CSV, required=False) is not None


@dataclass
class PersonalizeData:
    """A Personalize folder read: canonical tables, interactions sorted by time, the day origin."""

    items: pa.Table
    users: pa.Table
    descriptions: pa.Table
    interactions: pa.Table
    origin: int | None
    unknown: UnknownIds


def read(
    source: Path,
    *,
    interactions: Path | None = None,
    unknown_users: UnknownUsers = "profile-less",
    unknown_items: UnknownItems = "drop",
    event_types: Mapping[str, CanonicalEventType] | None = None,
) -> PersonalizeData:
    """Every file of the layout checked and mapped onto the canonical tables; nothing written."""
    if not source.is_dir():
        raise DataValidationError(str(source), "not a directory")
    items_path = _one(source, ITEMS_CSV, required=True)
    assert items_path is not None
    catalog = read_items(items_path)
    profiles = read_users(_one(source, USERS_CSV, required=False))
    unknown = UnknownIds(
        catalog.items[s.ITEM_ID].combine_chunks(),
        profiles.users[s.USER_ID].combine_chunks(),
        unknown_users,
        unknown_items,
    )
    events = EventTypes(event_types if event_types is not None else DEFAULT_EVENT_TYPES)
    tables = [
        t for p in interaction_files(source, interactions) for t in read_interactions(p, unknown, events)
    ]
    table = pa.concat_tables(tables).unify_dictionaries() if tables else s.INTERACTIONS_SCHEMA.empty_table()
    origin: int | None = None
    if len(table):
        table = table.take(pc.sort_indices(table, [(s.TIMESTAMP, "ascending")]))
        first = int(pc.min(table[s.TIMESTAMP]).as_py())
        origin = first - first % s.SECONDS_PER_DAY
    users = unknown.users_table(profiles.with_origin(origin))
    return PersonalizeData(catalog.with_origin(origin), users, catalog.descriptions, table, origin, unknown)


# --- export ---------------------------------------------------------------------------------------
_KEY: Final = "__key"
_INDEX: Final = "__i"


def _key(table: pa.Table) -> pa.Array:
    """The columns an impression shares with the View it was shown beside, as one text key."""
    parts = [
        pc.fill_null(pc.cast(table[c], pa.string()), "\x00")
        for c in (s.USER_ID, s.ANONYMOUS_ID, s.SESSION_ID, s.TIMESTAMP, s.DEVICE_TYPE, s.DISCOUNT)
    ]
    return _flat(pc.binary_join_element_wise(*parts, "\x01"))


def _fold_impressions(day: pa.Table) -> pa.Table:
    """The day's rows with each Impression folded into the IMPRESSION of its View; others kept as rows.

    An impression is attached to the first View with the same user, visitor, session, time, device and
    discount (how the generator and the event service write them) unless it shows the View's own item;
    an impression without such a View stays a row of event type Impression.
    """
    n = len(day)
    day = day.append_column(_INDEX, pa.array(np.arange(n, dtype=np.int64))).append_column(_KEY, _key(day))
    event = pc.cast(day[s.EVENT_TYPE], pa.string())
    is_impression = pc.equal(event, s.EventType.IMPRESSION.value)
    views = day.filter(pc.equal(event, s.EventType.VIEW.value))
    grouped = views.group_by(_KEY, use_threads=False).aggregate([(_INDEX, "min")])
    parents = grouped.select([_KEY, f"{_INDEX}_min"]).rename_columns([_KEY, "__parent"])
    shown = day.filter(is_impression).select([_INDEX, _KEY, s.ITEM_ID])
    shown = shown.set_column(2, s.ITEM_ID, pc.cast(shown[s.ITEM_ID], pa.string()))
    joined = shown.join(parents, _KEY, join_type="left outer", use_threads=False).sort_by(_INDEX)
    own = pc.take(pc.cast(day[s.ITEM_ID], pa.string()), pc.fill_null(joined["__parent"], 0))
    attach = pc.and_(pc.is_valid(joined["__parent"]), pc.not_equal(joined[s.ITEM_ID], own))
    attached = joined.filter(attach)
    lists = attached.group_by("__parent", use_threads=False).aggregate([(s.ITEM_ID, "list")])
    impression = pa.nulls(n, pa.string())
    if len(lists):
        text = pc.binary_join(lists[f"{s.ITEM_ID}_list"], MULTI)
        positions = lists["__parent"].to_numpy()
        values = np.full(n, None, dtype=object)
        values[positions] = text.to_numpy(zero_copy_only=False)
        impression = pa.array(values, pa.string())
        own_item = pc.cast(day[s.ITEM_ID], pa.string())
        impression = pc.if_else(
            pc.is_valid(impression), pc.binary_join_element_wise(own_item, impression, MULTI), impression
        )
    drop = np.zeros(n, bool)
    drop[attached[_INDEX].to_numpy()] = True
    day = day.append_column("IMPRESSION", impression)
    return day.filter(pa.array(~drop)).drop_columns([_INDEX, _KEY])


def _text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return _flat(pc.cast(column, pa.string()))


def _check_single_values(table: pa.Table, columns: tuple[str, ...], file: str) -> None:
    for name in columns:
        bad = first_false(pc.invert(pc.fill_null(pc.match_substring(table[name], MULTI), False)))
        if bad is not None:
            raise ValueError(
                f"{file}: {name} {table[name][bad].as_py()!r} holds {MULTI!r}, which Personalize reads as "
                "two values; cannot export it"
            )


def _flag_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return _flat(pc.if_else(column, "Yes", "No"))


def _creation(first_day: pa.ChunkedArray | pa.Array, origin: int | None) -> pa.Array:
    if origin is None:
        return pa.nulls(len(first_day), pa.int64())
    return _flat(pc.add(pc.multiply(pc.cast(first_day, pa.int64()), s.SECONDS_PER_DAY), origin))


def export(dataset: Path, output: Path, *, overwrite: bool = False) -> dict[str, int]:
    """Write the canonical dataset at `dataset` as Personalize CSVs in `output` (all or nothing)."""
    manifest_path = dataset / s.MANIFEST_FILE
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{dataset} is not a canonical dataset (no {s.MANIFEST_FILE})")
    origin = json.loads(manifest_path.read_text()).get("origin_timestamp")
    with staged_folder(output.resolve(), overwrite=overwrite, purpose="export") as tmp:
        counts = _export_into(dataset, tmp, origin, open_interactions(dataset))
    return counts


def _export_into(dataset: Path, out: Path, origin: int | None, interactions: ds.Dataset) -> dict[str, int]:
    items = pq.read_table(dataset / s.ITEMS_FILE)
    _check_single_values(items, (s.ITEM_ID, s.CATEGORY_L1, s.CATEGORY_L2, s.ITEM_GENDER), s.ITEMS_FILE)
    descriptions = pq.read_table(dataset / s.DESCRIPTIONS_FILE)
    described = items.select([s.ITEM_ID]).join(
        descriptions, s.ITEM_ID, join_type="left outer", use_threads=False
    )
    order = pc.index_in(items[s.ITEM_ID], value_set=described[s.ITEM_ID])
    description = pc.take(described[s.PRODUCT_DESCRIPTION], order)
    pacsv.write_csv(
        pa.table(
            {
                "ITEM_ID": items[s.ITEM_ID],
                "NAME": items[s.NAME],
                "CATEGORY_L1": items[s.CATEGORY_L1],
                "CATEGORY_L2": items[s.CATEGORY_L2],
                "PRICE": items[s.PRICE],
                "GENDER": items[s.ITEM_GENDER],
                "PROMOTED": pc.if_else(items[s.PROMOTED], "true", "false"),
                "CREATION_TIMESTAMP": _creation(items[s.FIRST_DAY], origin),
                "DESCRIPTION": description,
            }
        ),
        out / ITEMS_CSV,
    )
    users = pq.read_table(dataset / s.USERS_FILE)
    names = users.schema.names
    pacsv.write_csv(
        pa.table(
            {
                "USER_ID": users[s.USER_ID],
                "AGE": users[s.AGE],
                "GENDER": users[s.GENDER],
                "CREATION_TIMESTAMP": _creation(users[s.FIRST_DAY], origin),
                **{c.upper(): users[c] for c in (s.PERSONA, s.DISCOUNT_PERSONA) if c in names},
            }
        ),
        out / USERS_CSV,
    )
    rows = 0
    writer: pacsv.CSVWriter | None = None
    keys = (ds.get_partition_keys(f.partition_expression) for f in interactions.get_fragments())
    days = sorted({int(k[s.DAY]) for k in keys})
    try:
        for day in days:
            table = interactions.to_table(filter=pc.field(s.DAY) == day).drop_columns([s.DAY])
            folded = _fold_impressions(table)
            anonymous = pc.is_valid(folded[s.ANONYMOUS_ID])
            block = pa.table(
                {
                    "USER_ID": _flat(
                        pc.if_else(anonymous, _text(folded[s.ANONYMOUS_ID]), _text(folded[s.USER_ID]))
                    ),
                    "ITEM_ID": _text(folded[s.ITEM_ID]),
                    "TIMESTAMP": folded[s.TIMESTAMP],
                    "EVENT_TYPE": _text(folded[s.EVENT_TYPE]),
                    "IMPRESSION": folded["IMPRESSION"],
                    "DEVICE": _text(folded[s.DEVICE_TYPE]),
                    "SESSION_ID": folded[s.SESSION_ID],
                    "ANONYMOUS_ID": _text(folded[s.ANONYMOUS_ID]),
                    "DISCOUNT": _flag_text(folded[s.DISCOUNT]),
                }
            )
            if writer is None:
                writer = pacsv.CSVWriter(out / INTERACTIONS_CSV, block.schema)
            writer.write_table(block)
            rows += len(block)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        header = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,IMPRESSION,DEVICE,SESSION_ID,ANONYMOUS_ID,DISCOUNT\n"
        (out / INTERACTIONS_CSV).write_text(header)
    if (dataset / s.IMAGES_DIR).is_dir():
        shutil.copytree(dataset / s.IMAGES_DIR, out / s.IMAGES_DIR)
    return {"items": len(items), "users": len(users), "interactions": rows}
