"""Small product pictures whose pixels encode category (shape), style (pattern) and colour (fill).

They stand in for product photos: an image encoder trained on them learns features
that separate categories and colours, which is what the multimodal towers need.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw

from recsys_workloads.data.catalog import COLOURS, Catalog

IMAGE_SIZE: Final = 64
SHAPES: Final = (
    "circle", "square", "triangle", "diamond", "hexagon", "star", "wide", "tall",
    "ring", "cross", "pentagon", "octagon", "arch", "trapezoid", "heart", "bowtie",
)  # fmt: skip
PATTERNS: Final = ("plain", "hstripes", "vstripes", "dots", "checks", "diagonal", "grid", "border", "half")


def _polygon(sides: int, radius: float, rotation: float = -math.pi / 2) -> list[tuple[float, float]]:
    c = IMAGE_SIZE / 2
    return [
        (
            c + radius * math.cos(rotation + 2 * math.pi * k / sides),
            c + radius * math.sin(rotation + 2 * math.pi * k / sides),
        )
        for k in range(sides)
    ]


def _shape_outline(shape: str) -> list[tuple[float, float]]:
    m, n = 8.0, IMAGE_SIZE - 8.0
    match shape:
        case "square" | "ring" | "circle":
            return [(m, m), (n, m), (n, n), (m, n)]
        case "triangle":
            return _polygon(3, 26)
        case "diamond":
            return _polygon(4, 26)
        case "pentagon":
            return _polygon(5, 26)
        case "hexagon":
            return _polygon(6, 26)
        case "octagon":
            return _polygon(8, 26)
        case "star":
            outer, inner = _polygon(5, 27), _polygon(5, 11, -math.pi / 2 + math.pi / 5)
            return [p for pair in zip(outer, inner, strict=True) for p in pair]
        case "wide":
            return [(m - 2, 20), (n + 2, 20), (n + 2, 44), (m - 2, 44)]
        case "tall":
            return [(20, m - 2), (44, m - 2), (44, n + 2), (20, n + 2)]
        case "cross":
            return [(24, m), (40, m), (40, 24), (n, 24), (n, 40), (40, 40), (40, n), (24, n), (24, 40),
                    (m, 40), (m, 24), (24, 24)]  # fmt: skip
        case "arch":
            return [(m, n)] + [(32 + 24 * math.cos(a / 10 * math.pi), 36 - 26 * math.sin(a / 10 * math.pi))
                               for a in range(11)] + [(n, n)]  # fmt: skip
        case "trapezoid":
            return [(20, m), (44, m), (n, n), (m, n)]
        case "heart":
            return [(32, 56), (8, 30), (10, 14), (22, 10), (32, 20), (42, 10), (54, 14), (56, 30)]
        case _:  # bowtie
            return [(m, m), (32, 28), (n, m), (n, n), (32, 36), (m, n)]


def _pattern_mask(pattern: str) -> Image.Image:
    mask = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 0)
    draw = ImageDraw.Draw(mask)
    size = IMAGE_SIZE
    match pattern:
        case "hstripes":
            for y in range(0, size, 8):
                draw.rectangle([0, y, size, y + 3], fill=255)
        case "vstripes":
            for x in range(0, size, 8):
                draw.rectangle([x, 0, x + 3, size], fill=255)
        case "dots":
            for y in range(4, size, 10):
                for x in range(4, size, 10):
                    draw.ellipse([x, y, x + 4, y + 4], fill=255)
        case "checks":
            for y in range(0, size, 8):
                for x in range((y // 8) % 2 * 8, size, 16):
                    draw.rectangle([x, y, x + 7, y + 7], fill=255)
        case "diagonal":
            for k in range(-size, size, 10):
                draw.line([(k, 0), (k + size, size)], fill=255, width=3)
        case "grid":
            for k in range(0, size, 10):
                draw.line([(k, 0), (k, size)], fill=255, width=1)
                draw.line([(0, k), (size, k)], fill=255, width=1)
        case "border":
            draw.rectangle([0, 0, size - 1, size - 1], outline=255, width=5)
        case "half":
            draw.rectangle([0, size // 2, size, size], fill=255)
    return mask


def draw_product(category_index: int, style_index: int, colour: str) -> bytes:
    """PNG bytes of one product picture; identical inputs give identical bytes."""
    shape = SHAPES[category_index % len(SHAPES)]
    pattern = PATTERNS[style_index % len(PATTERNS)]
    fill = COLOURS[colour]
    shade = tuple(max(0, int(v * 0.55)) for v in fill)
    shape_mask = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 0)
    mask_draw = ImageDraw.Draw(shape_mask)
    if shape == "circle":
        mask_draw.ellipse([8, 8, 56, 56], fill=255)
    elif shape == "ring":
        mask_draw.ellipse([6, 6, 58, 58], fill=255)
        mask_draw.ellipse([22, 22, 42, 42], fill=0)
    else:
        mask_draw.polygon(_shape_outline(shape), fill=255)
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (250, 250, 250))
    image.paste(Image.new("RGB", image.size, fill), mask=shape_mask)
    pattern_on_shape = Image.new("L", image.size, 0)
    pattern_on_shape.paste(_pattern_mask(pattern), mask=shape_mask)
    image.paste(Image.new("RGB", image.size, shade), mask=pattern_on_shape)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def image_keys(catalog: Catalog) -> list[tuple[int, int, str]]:
    """(category index, style index, colour) per item: the visual identity of each product."""
    categories = catalog.category_names
    styles_by_category: dict[str, list[str]] = {}
    for category, style in zip(catalog.categories, catalog.styles, strict=True):
        styles = styles_by_category.setdefault(category, [])
        if style not in styles:
            styles.append(style)
    for styles in styles_by_category.values():
        styles.sort()
    return [
        (categories.index(c), styles_by_category[c].index(st), colour)
        for c, st, colour in zip(catalog.categories, catalog.styles, catalog.colours, strict=True)
    ]


def write_images(catalog: Catalog, directory: Path, on_image: Callable[[], None] | None = None) -> int:
    """Write `<item_id>.png` per item; identical pictures are drawn once and reused."""
    directory.mkdir(parents=True, exist_ok=True)
    cache: dict[tuple[int, int, str], bytes] = {}
    for item_id, key in zip(catalog.item_ids, image_keys(catalog), strict=True):
        if key not in cache:
            cache[key] = draw_product(*key)
        (directory / f"{item_id}.png").write_bytes(cache[key])
        if on_image is not None:
            on_image()
    return len(catalog)
