"""Id columns are read dictionary-encoded: equal values share one string, nulls stay None."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from recsys_workloads.features.tables import interned_strings


def test_values_nulls_and_order_survive_across_chunks() -> None:
    column = pa.chunked_array([pa.array(["u1", "u2", None]), pa.array(["u2", "u3", "u1"])])
    out = interned_strings(column)
    assert out.dtype == object
    assert out.tolist() == ["u1", "u2", None, "u2", "u3", "u1"]


def test_equal_values_share_one_python_string() -> None:
    ids = [f"user-{n % 3}" for n in range(9)]
    out = interned_strings(pa.chunked_array([pa.array(ids[:4]), pa.array(ids[4:])]))
    assert len({id(v) for v in out.tolist()}) == 3
    assert out[0] is out[3] is out[6]


def test_non_string_columns_and_empty_columns() -> None:
    assert interned_strings(pa.chunked_array([pa.array([7, None, 7])])).tolist() == ["7", None, "7"]
    empty = interned_strings(pa.chunked_array([], type=pa.string()))
    assert empty.dtype == object and len(empty) == 0
    assert np.array_equal(
        interned_strings(pa.chunked_array([pa.array(["a"])])), np.array(["a"], dtype=object)
    )
