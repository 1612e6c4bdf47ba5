"""Product pictures carry category, style and colour in their pixels."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from recsys_workloads.data.catalog import synthetic_catalog
from recsys_workloads.data.images import IMAGE_SIZE, draw_product, image_keys


def _pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.size == (IMAGE_SIZE, IMAGE_SIZE)
    return np.asarray(image.convert("RGB"), dtype=np.int64)


def test_same_product_identity_draws_the_same_bytes() -> None:
    assert draw_product(3, 1, "red") == draw_product(3, 1, "red")


def test_category_style_and_colour_each_change_the_picture() -> None:
    base = _pixels(draw_product(0, 0, "red"))
    for other in (draw_product(1, 0, "red"), draw_product(0, 2, "red"), draw_product(0, 0, "blue")):
        assert np.abs(_pixels(other) - base).sum() > 1000


def test_colour_dominates_the_drawn_pixels() -> None:
    pixels = _pixels(draw_product(5, 0, "green")).reshape(-1, 3)
    painted = pixels[(pixels != 250).any(axis=1)]
    assert painted[:, 1].mean() > painted[:, 0].mean() + 60


def test_synthetic_catalog_keys_follow_category_and_colour() -> None:
    catalog = synthetic_catalog(200, seed=0)
    keys = image_keys(catalog)
    assert len(catalog) == 200 and len(set(catalog.categories)) == 16
    by_category = {c: k[0] for c, k in zip(catalog.categories, keys, strict=True)}
    assert len(set(by_category.values())) == 16
    assert all(k[2] == colour for k, colour in zip(keys, catalog.colours, strict=True))
