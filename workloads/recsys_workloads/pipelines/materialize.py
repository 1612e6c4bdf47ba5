"""Materialise a trained version's features into the online store (Feast), after evaluation.

The feature store's config arrives as plain JSON in `PipelineConfig.featureStore` and is
validated here: `recsys_workloads.feature_store` imports NumPy, which the operator image
(that also imports `PipelineConfig`) does not have.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.pipelines import store

if TYPE_CHECKING:
    from recsys_workloads.feature_store import FeatureStoreConfig


def feature_store_config(config: PipelineConfig) -> FeatureStoreConfig | None:
    """The validated feature store config, or None when the pipeline materialises nothing."""
    if config.feature_store is None:
        return None
    from recsys_workloads.feature_store import FeatureStoreConfig

    return FeatureStoreConfig.model_validate(config.feature_store)


def content_embeddings(items: Mapping[str, Any], dim: int) -> np.ndarray | None:
    """Text and image embeddings side by side, if that is the store's `embeddingDim` (else None)."""
    from recsys_workloads.features import transform as ft

    matrix = np.concatenate([np.asarray(items[n], np.float32) for n in ft.CONTENT_FEATURES], axis=1)
    return matrix if matrix.shape[1] == dim else None


def repo_dir(config: PipelineConfig) -> Path:
    """Where feature_store.yaml is rendered: beside the artifacts locally, a scratch folder for S3."""
    if store.is_s3(config.artifact_root):
        return Path(tempfile.mkdtemp(prefix="feature-repo-"))
    return Path(config.artifact_root) / config.recommender / "feature_repo"


def materialize_version(
    dataset: Path, version: Path, config: PipelineConfig, as_of: dt.datetime | None = None
) -> list[str]:
    """Build the feature tables, apply the definitions and materialise them; returns the views."""
    from recsys_workloads import feature_store as fs
    from recsys_workloads.models import artifacts

    fs_config = feature_store_config(config)
    if fs_config is None:
        return []
    as_of = as_of or dt.datetime.now(dt.UTC).replace(microsecond=0)
    repo = repo_dir(config)
    ids, items = artifacts.load_items(version / artifacts.ITEMS_FILE)
    vectors = content_embeddings(items, fs_config.embedding_dim)
    embeddings = ([str(i) for i in ids.tolist()], vectors) if vectors is not None else None
    if store.is_s3(fs_config.feature_data):
        with tempfile.TemporaryDirectory(prefix="features-") as scratch:
            views = fs.build_feature_tables(dataset, Path(scratch), as_of, fs_config, embeddings)
            store.upload_dir(Path(scratch), fs_config.feature_data)
    else:
        tables = Path(fs_config.feature_data)
        if not tables.is_absolute():
            tables = repo / tables
            fs_config = fs_config.model_copy(update={"feature_data": str(tables)})
        views = fs.build_feature_tables(dataset, tables, as_of, fs_config, embeddings)
    feast = fs.apply(repo, fs_config)
    fs.materialize(feast, as_of + dt.timedelta(seconds=1), fs_config, views)
    return views
