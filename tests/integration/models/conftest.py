"""A tiny generated shop (strong persona signal), built once per test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest

DAYS = 6


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Canonical dataset; the generator's ground truth sits in `<shop>/../raw/ground_truth`."""
    root = tmp_path_factory.mktemp("shop")
    generate(GeneratorConfig(users=300, interactions=20_000, days=DAYS, images=True), root / "raw")
    ingest(root / "raw", root / "canonical")
    return root / "canonical"


@pytest.fixture(scope="module")
def ground_truth(shop: Path) -> Path:
    return shop.parent / "raw" / "ground_truth"
