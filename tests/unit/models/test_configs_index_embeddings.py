"""Configs fit a structural CRD schema; the FAISS index round-trips; PCA and the embedding cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from recsys_workloads.contracts.index import IndexConfig
from recsys_workloads.contracts.models import ModelsConfig
from recsys_workloads.embeddings.cache import EmbeddingCache
from recsys_workloads.embeddings.pca import Pca
from recsys_workloads.index.item_index import ItemIndex


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = list(schema.get("properties", {}).items())
    for definition in schema.get("$defs", {}).values():
        found.extend(definition.get("properties", {}).items())
    return found


@pytest.mark.parametrize("model", [ModelsConfig, IndexConfig])
def test_config_schemas_describe_every_field_with_plain_types(
    model: type[ModelsConfig] | type[IndexConfig],
) -> None:
    schema = model.model_json_schema()
    for name, prop in _properties(schema):
        assert prop.get("description"), name
        assert "format" not in prop or prop["format"] not in {"path", "binary"}, name


def test_configs_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ModelsConfig.model_validate({"two_tower": {"embeding_dim": 32}})
    with pytest.raises(ValidationError):
        IndexConfig.model_validate({"factory": "Flat", "nlist": 3})


def test_defaults_follow_the_seed() -> None:
    c = ModelsConfig()
    assert c.two_tower.query_layers == [128, 64] and c.two_tower.embedding_dim == 64
    assert (c.dlrm.bottom_layers, c.dlrm.top_layers, c.dlrm.negatives_per_positive) == (
        [128, 64],
        [128, 64, 32],
        5,
    )
    assert (c.cold_start.anonymous_mask_rate, c.cold_start.device_mask_rate) == (0.05, 0.05)
    assert (c.fine_tune.learning_rate, c.fine_tune.epochs, c.embeddings.reduced_dim) == (1e-4, 1, 64)
    assert (IndexConfig().factory, IndexConfig().top_k) == ("Flat", 300)


@pytest.mark.parametrize("factory", ["Flat", "HNSW16", "IVF4,Flat"])
def test_index_round_trips_to_disk_with_identical_results(tmp_path: Path, factory: str) -> None:
    vectors = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    index = ItemIndex.build(vectors, IndexConfig(factory=factory, nprobe=4, top_k=10))
    loaded = ItemIndex.load(index.save(tmp_path))
    queries = vectors[:5]
    assert loaded.config == index.config
    np.testing.assert_array_equal(index.search(queries)[1], loaded.search(queries)[1])
    assert loaded.search(queries)[1].shape == (5, 10)


def test_exact_inner_product_index_returns_the_best_dot_products() -> None:
    vectors = np.random.default_rng(1).normal(size=(50, 8)).astype(np.float32)
    query = np.random.default_rng(2).normal(size=(1, 8)).astype(np.float32)
    scores, rows = ItemIndex.build(vectors, IndexConfig()).search(query, 5)
    assert rows[0].tolist() == np.argsort(-(vectors @ query[0]))[:5].tolist()
    np.testing.assert_allclose(scores[0], np.sort(vectors @ query[0])[::-1][:5], rtol=1e-5)


def test_pca_keeps_the_configured_size_and_reloads_identically(tmp_path: Path) -> None:
    x = np.random.default_rng(3).normal(size=(40, 12))
    pca = Pca.fit(x, 5)
    again = Pca.load(pca.save(tmp_path / "pca.npz"))
    assert pca.transform(x).shape == (40, 5)
    np.testing.assert_array_equal(pca.transform(x), again.transform(x))
    assert Pca.fit(x[:3], 5).transform(x).shape == (40, 5)  # fewer rows than components: zero-padded


def test_embedding_cache_encodes_only_new_content(tmp_path: Path) -> None:
    calls: list[int] = []

    def encode(contents: list[object]) -> npt.NDArray[np.float32]:
        calls.append(len(contents))
        return np.array([[float(len(str(c)))] for c in contents], dtype=np.float32)

    _, n1 = EmbeddingCache(tmp_path / "c.npz").embed(["k1", "k2"], ["a", "bb"], encode)
    second, n2 = EmbeddingCache(tmp_path / "c.npz").embed(["k2", "k3", "k1"], ["bb", "ccc", "a"], encode)
    assert (n1, n2, calls) == (2, 1, [2, 1])
    assert second[:, 0].tolist() == [2.0, 3.0, 1.0]


def test_search_leaves_out_rows_that_are_not_allowed_and_keeps_score_order() -> None:
    vectors = np.random.default_rng(3).normal(size=(40, 8)).astype(np.float32)
    query = np.random.default_rng(4).normal(size=(2, 8)).astype(np.float32)
    index = ItemIndex.build(vectors, IndexConfig())
    allowed = np.arange(40) % 3 != 0
    scores, rows = index.search(query, 5, allowed=allowed)
    for q in range(2):
        best = [r for r in np.argsort(-(vectors @ query[q])).tolist() if allowed[r]][:5]
        assert rows[q].tolist() == best
        assert np.all(np.diff(scores[q]) <= 0)
    few = np.zeros(40, dtype=bool)
    few[[7, 9]] = True
    assert sorted(index.search(query, 5, allowed=few)[1][0].tolist()) == [-1, -1, -1, 7, 9]


# What the factory grammar accepts FAISS builds; what FAISS refuses the grammar refuses first.
FACTORIES_FAISS_BUILDS = [
    "Flat", "IVF1024,Flat", "HNSW32", "IVF4096,PQ32", "IVF256,SQ8", "PCA32,IVF64,Flat", "OPQ16_64,IVF256,PQ16",
    "IDMap,Flat", "IDMap2,Flat", "HNSW32_Flat", "IVF64_HNSW32,Flat", "LSH", "IVF64,PQ16x4fs", "IVF64,PQ16,RFlat",
    "SQfp16", "HNSW32,SQ8", "PQ16", "PCAR32,Flat", "L2norm,Flat", "RR64,Flat", "IMI2x4,PQ16", "NSG32",
    "IVF64,RQ4x8",
]  # fmt: skip
FACTORIES_FAISS_REFUSES = [
    "IVF1024 Flat",
    "ivf1024,flat",
    "HSNW32",
    "IVF,Flat",
    "PQ",
    "Flat;IVF",
    "Flat,",
    "IVF64,",
]


@pytest.mark.parametrize("factory", FACTORIES_FAISS_BUILDS)
def test_the_factory_grammar_accepts_what_faiss_builds(factory: str) -> None:
    import faiss

    assert IndexConfig(factory=factory).factory == factory
    assert faiss.index_factory(64, factory) is not None


@pytest.mark.parametrize("factory", FACTORIES_FAISS_REFUSES)
def test_the_factory_grammar_refuses_what_faiss_refuses(factory: str) -> None:
    import faiss

    with pytest.raises(RuntimeError):
        faiss.index_factory(64, factory)
    with pytest.raises(ValidationError, match=r"is not a faiss\.index_factory string"):
        IndexConfig(factory=factory)


def test_more_ivf_lists_than_items_fails_the_build_naming_the_field() -> None:
    vectors = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    with pytest.raises(
        ValueError, match=r"spec.retrieval.factory 'IVF64,Flat' asks for 64 IVF lists .* 50 items"
    ):
        ItemIndex.build(vectors, IndexConfig(factory="IVF64,Flat"))


@pytest.mark.parametrize(
    ("dlrm", "message"),
    [
        ({"embeddingDim": 32}, r"bottomLayers must end with embeddingDim \(32\), not 64"),
        ({"bottomLayers": [0, 64]}, "greater than or equal to 1"),
        ({"topLayers": [-8]}, "greater than or equal to 1"),
        ({"topLayers": [16] * 9}, "at most 8 items"),
    ],
)
def test_layer_shapes_that_cannot_connect_are_refused(dlrm: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelsConfig.model_validate({"dlrm": dlrm})
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ModelsConfig.model_validate({"twoTower": {"queryLayers": [64, 0]}})


def test_search_time_knobs_apply_to_a_loaded_index_without_retraining(tmp_path: Path) -> None:
    import faiss

    vectors = np.random.default_rng(1).standard_normal((400, 8)).astype(np.float32)
    built = ItemIndex.build(vectors, IndexConfig(factory="IVF16,Flat", nprobe=1, metric="l2"))
    loaded = ItemIndex.load(built.save(tmp_path / "index"))
    assert faiss.extract_index_ivf(loaded.index).nprobe == 1
    every_list = loaded.searching(nprobe=16)
    assert faiss.extract_index_ivf(every_list.index).nprobe == 16 and every_list.config.nprobe == 16
    exact = ItemIndex.build(vectors, IndexConfig(factory="Flat", metric="l2"))
    queries = vectors[:20] + 0.01
    assert (every_list.search(queries, 10)[1] == exact.search(queries, 10)[1]).all()
    assert loaded.searching() is loaded  # nothing asked: the index as it was built

    hnsw = ItemIndex.build(vectors, IndexConfig(factory="HNSW16", ef_search=16)).searching(ef_search=200)
    assert faiss.downcast_index(hnsw.index).hnsw.efSearch == 200  # type: ignore[attr-defined]


def test_hnsw_beam_is_at_least_k_wide() -> None:
    import faiss

    # FAISS's HNSW returns k rows from an efSearch-wide beam even when efSearch < k; the index
    # widens it to k, so efSearch 16 asked for 200 of 3,000 finds what efSearch 200 finds.
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    queries = rng.standard_normal((20, 16)).astype(np.float32)
    exact = ItemIndex.build(vectors, IndexConfig(factory="Flat")).search(queries, 200)[1]
    narrow = ItemIndex.build(vectors, IndexConfig(factory="HNSW16", ef_search=16))
    found = narrow.search(queries, 200)[1]
    recall = np.mean([len(np.intersect1d(f, e)) / 200 for f, e in zip(found, exact, strict=True)])
    assert recall > 0.9
    assert narrow.config.ef_search == 16  # the knob itself is kept
    raw = faiss.downcast_index(narrow.index)
    _, unwidened = raw.search(queries, 200)
    assert np.mean([len(np.intersect1d(f, e)) / 200 for f, e in zip(unwidened, exact, strict=True)]) < recall
