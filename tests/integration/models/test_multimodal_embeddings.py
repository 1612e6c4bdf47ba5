"""Text (real all-MiniLM-L6-v2, offline) and image (tiny random CLIP saved here) embeddings of items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recsys_workloads.contracts.models import EmbeddingConfig
from recsys_workloads.data import schema as s
from recsys_workloads.embeddings.encoders import ImageEncoder, TextEncoder
from recsys_workloads.embeddings.items import item_content
from recsys_workloads.features import transform as ft
from recsys_workloads.features.tables import load_catalog

ITEMS = 40


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised CLIP saved with `save_pretrained`: loaded through the production loader."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clip")
    config = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2},
        vision_config={
            "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "image_size": 32, "patch_size": 8,
        },
        projection_dim=24,
    )  # fmt: skip
    CLIPModel(config).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        path
    )
    return path


def test_items_get_reduced_text_and_image_embeddings_and_reruns_embed_nothing(
    shop: Path, tiny_clip: Path, tmp_path: Path
) -> None:
    catalog = load_catalog(shop)
    descriptions = catalog.descriptions[:ITEMS].tolist()
    images = [shop / s.IMAGES_DIR / f"{i}.png" for i in catalog.item_ids[:ITEMS].tolist()]
    config = EmbeddingConfig(image_model=str(tiny_clip), reduced_dim=8)
    assert config.text_model is not None and config.image_model is not None
    text, image = TextEncoder(config.text_model), ImageEncoder(config.image_model)
    assert text.encode(["a red boot"]).shape == (1, 384)

    first = item_content(descriptions, images, config, tmp_path / "cache", tmp_path / "out", text, image)
    assert first.vectors[ft.TEXT_EMBEDDING].shape == (ITEMS, 8)
    assert first.vectors[ft.IMAGE_EMBEDDING].shape == (ITEMS, 8)
    # Identical content (same description or image bytes) is embedded once.
    distinct_images = len({p.read_bytes() for p in images})
    assert first.encoded == {ft.TEXT_EMBEDDING: len(set(descriptions)), ft.IMAGE_EMBEDDING: distinct_images}
    assert np.abs(first.vectors[ft.IMAGE_EMBEDDING]).sum() > 0

    rerun = item_content(descriptions, images, config, tmp_path / "cache", tmp_path / "out", text, image)
    assert rerun.encoded == {ft.TEXT_EMBEDDING: 0, ft.IMAGE_EMBEDDING: 0}
    for name in ft.CONTENT_FEATURES:
        np.testing.assert_array_equal(rerun.vectors[name], first.vectors[name])

    grown = item_content([*descriptions, "a brand new velvet hat"], [*images, images[0]], config,
                         tmp_path / "cache", tmp_path / "out", text, image)  # fmt: skip
    assert grown.encoded == {ft.TEXT_EMBEDDING: 1, ft.IMAGE_EMBEDDING: 0}
    np.testing.assert_array_equal(grown.vectors[ft.TEXT_EMBEDDING][:ITEMS], first.vectors[ft.TEXT_EMBEDDING])


def test_disabled_encoders_give_zero_vectors_of_the_configured_size(tmp_path: Path) -> None:
    out = item_content(["x", "y"], [tmp_path / "none.png"] * 2, EmbeddingConfig(text_model="", reduced_dim=4),
                       tmp_path / "cache", tmp_path / "out")  # fmt: skip
    assert {k: v.shape for k, v in out.vectors.items()} == {
        ft.TEXT_EMBEDDING: (2, 4),
        ft.IMAGE_EMBEDDING: (2, 4),
    }
    assert not any(v.any() for v in out.vectors.values())
