"""The canonical dataset read into NumPy columns (training side only: imports pyarrow)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from recsys_workloads.data import schema as s
from recsys_workloads.data.ingest import open_interactions

ObjectArray = npt.NDArray[np.object_]


def interned_strings(column: pa.ChunkedArray) -> ObjectArray:
    """Strings as an object array whose equal values share one interned Python string.

    Dictionary-encoded first: a column of 35M ids with 300k distinct values then holds 300k
    strings plus 8-byte pointers, not 35M strings (bench/step_memory.py: 11.0 -> 4.4 GiB).
    """
    parts = [np.empty(0, dtype=object)]
    for chunk in pc.cast(column, pa.string()).chunks:
        encoded = pc.dictionary_encode(chunk)
        values = np.array([sys.intern(v) for v in encoded.dictionary.to_pylist()] + [None], dtype=object)
        codes = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
        parts.append(values[codes])
    return np.concatenate(parts)


@dataclass(frozen=True)
class Catalog:
    item_ids: ObjectArray
    category_l1: ObjectArray
    category_l2: ObjectArray
    item_gender: ObjectArray
    price: npt.NDArray[np.float64]
    first_day: npt.NDArray[np.int64]
    descriptions: ObjectArray

    def __len__(self) -> int:
        return len(self.item_ids)

    def rows(self, item_ids: Sequence[str] | ObjectArray) -> npt.NDArray[np.int64]:
        """Catalog row of each id (ids must be in the catalog: ingestion guarantees it)."""
        index = {v: i for i, v in enumerate(self.item_ids.tolist())}
        return np.fromiter((index[i] for i in item_ids), dtype=np.int64, count=len(item_ids))


@dataclass(frozen=True)
class Users:
    user_ids: ObjectArray
    age: npt.NDArray[np.float64]  # NaN when unknown
    gender: ObjectArray
    first_day: npt.NDArray[np.float64]  # NaN when unknown

    def attributes(self, user_ids: Sequence[str | None]) -> tuple[npt.NDArray[np.float64], list[str | None]]:
        """Age and gender per visitor; anonymous or unknown visitors get NaN / None."""
        index = {v: i for i, v in enumerate(self.user_ids.tolist())}
        rows = [index.get(u, -1) if u is not None else -1 for u in user_ids]
        ages = np.array([self.age[r] if r >= 0 else np.nan for r in rows])
        genders = [self.gender[r] if r >= 0 else None for r in rows]
        return ages, genders


@dataclass(frozen=True)
class Interactions:
    user_id: ObjectArray  # None for anonymous visitors
    anonymous_id: ObjectArray
    item_id: ObjectArray
    timestamp: npt.NDArray[np.int64]
    device: ObjectArray
    clicked: npt.NDArray[np.bool_]
    day: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.item_id)

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> Interactions:
        return Interactions(**{k: v[mask] for k, v in self.__dict__.items()})

    @property
    def visitor(self) -> ObjectArray:
        """User id, or the anonymous id of an anonymous visitor."""
        return np.where(self.user_id == None, self.anonymous_id, self.user_id)  # noqa: E711


def load_catalog(dataset: Path) -> Catalog:
    items = pq.read_table(dataset / s.ITEMS_FILE)
    descriptions = pq.read_table(dataset / s.DESCRIPTIONS_FILE)
    text = dict(
        zip(descriptions[s.ITEM_ID].to_pylist(), descriptions[s.PRODUCT_DESCRIPTION].to_pylist(), strict=True)
    )
    ids = interned_strings(items[s.ITEM_ID])
    return Catalog(
        item_ids=ids,
        category_l1=interned_strings(items[s.CATEGORY_L1]),
        category_l2=interned_strings(items[s.CATEGORY_L2]),
        item_gender=interned_strings(items[s.ITEM_GENDER]),
        price=items[s.PRICE].to_numpy().astype(np.float64),
        first_day=items[s.FIRST_DAY].to_numpy().astype(np.int64),
        descriptions=np.array([text.get(i) or "" for i in ids.tolist()], dtype=object),
    )


def load_users(dataset: Path) -> Users:
    users = pq.read_table(dataset / s.USERS_FILE)
    return Users(
        user_ids=interned_strings(users[s.USER_ID]),
        age=np.array(users[s.AGE].to_pylist(), dtype=np.float64),
        gender=interned_strings(users[s.GENDER]),
        first_day=np.array(users[s.FIRST_DAY].to_pylist(), dtype=np.float64),
    )


def load_interactions(dataset: Path, days: Sequence[int] | None = None) -> Interactions:
    """Rows of the given days (all days when None), sorted by time."""
    data = open_interactions(dataset)
    expression = None if days is None else ds.field(s.DAY).isin([int(d) for d in days])
    table = data.to_table(
        columns=[s.USER_ID, s.ANONYMOUS_ID, s.ITEM_ID, s.TIMESTAMP, s.DEVICE_TYPE, s.CLICKED, s.DAY],
        filter=expression,
    )
    table = table.sort_by([(s.TIMESTAMP, "ascending")])
    return Interactions(
        user_id=interned_strings(table[s.USER_ID]),
        anonymous_id=interned_strings(table[s.ANONYMOUS_ID]),
        item_id=interned_strings(table[s.ITEM_ID]),
        timestamp=table[s.TIMESTAMP].to_numpy().astype(np.int64),
        device=interned_strings(table[s.DEVICE_TYPE]),
        clicked=table[s.CLICKED].to_numpy(zero_copy_only=False).astype(bool),
        day=table[s.DAY].to_numpy().astype(np.int64),
    )


def available_days(dataset: Path) -> list[int]:
    return sorted(
        int(d) for d in np.unique(open_interactions(dataset).to_table(columns=[s.DAY])[s.DAY].to_numpy())
    )
