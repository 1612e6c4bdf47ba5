"""The fitted transforms: buckets, cyclic time, artifact round trip and train/serve parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from recsys_workloads.features import transform as ft
from recsys_workloads.features.history import user_history
from recsys_workloads.features.vocabulary import ANONYMOUS_INDEX, OOV_INDEX, RESERVED, Vocabulary
from recsys_workloads.vocab import UNKNOWN_DEVICE

MONDAY_MIDNIGHT = 1_767_571_200  # 2026-01-05T00:00:00Z


def fitted(users: tuple[str, ...] = ("u1", "u2")) -> ft.FittedTransforms:
    return ft.FittedTransforms(
        vocabularies={
            ft.USER_ID: Vocabulary(users),
            ft.GENDER: Vocabulary(("F", "M")),
            ft.DEVICE: ft.default_device_vocabulary(),
            ft.ITEM_ID: Vocabulary(("a", "b", "c")),
            ft.CATEGORY_L1: Vocabulary(("shoes", "bags")),
            ft.CATEGORY_L2: Vocabulary(("boots",)),
            ft.ITEM_GENDER: Vocabulary(("M", "F", "Any")),
        },
        age_mean=40.0,
        age_std=10.0,
        log_price_mean=3.0,
        log_price_std=1.0,
        recent_items=3,
    )


def as_float(values: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    """`Features` arrays are typed `np.generic`; numpy types `assert_allclose` for numbers only."""
    return np.asarray(values, dtype=np.float64)


def test_vocabulary_reserves_out_of_vocabulary_and_anonymous_buckets() -> None:
    vocab = Vocabulary.fit(["b", "a", "b", None])
    assert vocab.values == ("b", "a")  # most frequent first
    assert vocab.lookup(["b", "a", "zzz", None, ""]).tolist() == [
        RESERVED,
        RESERVED + 1,
        OOV_INDEX,
        ANONYMOUS_INDEX,
        ANONYMOUS_INDEX,
    ]
    assert vocab.size == 4
    assert vocab.decode([RESERVED + 1, OOV_INDEX]) == ["a", None]


def test_age_buckets_split_at_the_configured_boundaries_and_missing_is_anonymous() -> None:
    buckets = ft.age_buckets([17, 18, 24, 25, 49, 50, 64, 65, 90, np.nan, 0])
    assert buckets.tolist() == [2, 3, 3, 4, 5, 6, 6, 7, 7, ANONYMOUS_INDEX, ANONYMOUS_INDEX]


def test_context_encodes_hour_and_weekday_on_circles_and_unknown_device_as_oov() -> None:
    t = fitted()
    ts = np.array([MONDAY_MIDNIGHT, MONDAY_MIDNIGHT + 6 * 3600, MONDAY_MIDNIGHT + 6 * 86_400 + 23 * 3600])
    ctx = ft.transform_context(t, ts, ["web", UNKNOWN_DEVICE, "smart-tv"])
    np.testing.assert_allclose(as_float(ctx[ft.HOUR_SIN]), [0.0, 1.0, np.sin(2 * np.pi * 23 / 24)], atol=1e-6)
    np.testing.assert_allclose(
        as_float(ctx[ft.WEEKDAY_COS]), [1.0, 1.0, np.cos(2 * np.pi * 6 / 7)], atol=1e-6
    )
    assert ctx[ft.DEVICE].tolist() == [RESERVED, OOV_INDEX, OOV_INDEX]


def test_users_transform_shapes_anonymous_and_new_users() -> None:
    t = fitted()
    out = ft.transform_users(
        t,
        ["u1", "new-user", None],
        [50, 30, np.nan],
        ["M", "F", None],
        ["bags", None, None],
        [["c", "a", "x", "b"], [], []],
    )
    assert {k: v.shape for k, v in out.items()} == {
        ft.USER_ID: (3,), ft.GENDER: (3,), ft.AGE_BUCKET: (3,), ft.AGE: (3,), ft.TOP_CATEGORY: (3,), ft.RECENT_ITEMS: (3, 3),
    }  # fmt: skip
    assert out[ft.USER_ID].tolist() == [RESERVED, OOV_INDEX, ANONYMOUS_INDEX]
    assert out[ft.RECENT_ITEMS].tolist()[0] == [
        RESERVED + 2,
        RESERVED,
        OOV_INDEX,
    ]  # truncated to 3, unknown item → OOV
    assert out[ft.RECENT_ITEMS].tolist()[2] == [ANONYMOUS_INDEX] * 3
    np.testing.assert_allclose(as_float(out[ft.AGE]), [1.0, -1.0, 0.0])


def test_saved_artifact_gives_identical_features_on_the_same_rows(tmp_path: Path) -> None:
    t = fitted()
    t.save(tmp_path / "transforms")
    loaded = ft.FittedTransforms.load(tmp_path / "transforms")
    assert loaded.version == t.version
    rows = (["u2", None], [33, np.nan], ["F", None], ["shoes", None], [["b"], []])
    before, after = ft.transform_users(t, *rows), ft.transform_users(loaded, *rows)
    items = (["a", "new"], ["shoes", "x"], ["boots", "boots"], ["Any", "M"], [19.9, 250.0])
    for a, b in ((before, after), (ft.transform_items(t, *items), ft.transform_items(loaded, *items))):
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].dtype == b[name].dtype
            np.testing.assert_array_equal(a[name], b[name])


def test_version_changes_with_the_fitted_content() -> None:
    assert fitted().version == fitted().version
    assert fitted().version != fitted(("u1", "u2", "u3")).version


def test_tampered_artifact_is_rejected(tmp_path: Path) -> None:
    fitted().save(tmp_path)
    text = (tmp_path / ft.TRANSFORMS_FILE).read_text().replace('"u2"', '"u9"')
    (tmp_path / ft.TRANSFORMS_FILE).write_text(text)
    with pytest.raises(ValueError, match="does not match version"):
        ft.FittedTransforms.load(tmp_path)


def test_history_keeps_recent_distinct_items_latest_first_and_the_top_category() -> None:
    users = np.array(["u1", "u1", "u1", "u1", "u1", "u2", None], dtype=object)
    items = np.array(["a", "b", "a", "c", "b", "c", "a"], dtype=object)
    ts = np.array([1, 2, 3, 4, 5, 6, 7], dtype=np.int64)
    history = user_history(users, items, ts, {"a": "shoes", "b": "bags", "c": "bags"}, recent=2)
    assert history.recent_items == {"u1": ("b", "c"), "u2": ("c",)}
    assert history.top_category == {"u1": "bags", "u2": "bags"}  # kept items b, c, a: two bags, one shoe
    tops, recent = history.lookup(["u2", None, "unknown"])
    assert tops == ["bags", None, None]
    assert recent == [("c",), (), ()]
