"""End to end on the tiny shop: train, evaluate, fine-tune with a frozen candidate tower, export."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import onnx
import pytest

from recsys_workloads.contracts.index import IndexConfig
from recsys_workloads.contracts.models import (
    DlrmConfig,
    EmbeddingConfig,
    FineTuneConfig,
    ModelsConfig,
    TwoTowerConfig,
)
from recsys_workloads.evaluation.report import markdown
from recsys_workloads.features import transform as ft
from recsys_workloads.features.vocabulary import OOV_INDEX
from recsys_workloads.index.item_index import ItemIndex
from recsys_workloads.models import artifacts, blend, dlrm, two_tower
from recsys_workloads.models.export import export_version
from recsys_workloads.models.onnx_runner import OnnxModel
from recsys_workloads.models.pipeline import VersionSummary, finetune_version, train_version
from recsys_workloads.vocab import DEVICE_TYPES

from .conftest import DAYS

CONFIG = ModelsConfig(
    two_tower=TwoTowerConfig(epochs=3),
    dlrm=DlrmConfig(epochs=1),
    embeddings=EmbeddingConfig(text_model="", image_model=""),  # encoders: test_multimodal_embeddings
    fine_tune=FineTuneConfig(min_eval_queries=1),  # the held-out day of a small shop
)
TRAIN_DAYS = list(range(DAYS - 2))
NEW_DAY = DAYS - 2


@pytest.fixture(scope="module")
def initial(shop: Path, ground_truth: Path, tmp_path_factory: pytest.TempPathFactory) -> VersionSummary:
    out = tmp_path_factory.mktemp("versions") / "1"
    return train_version(shop, out, CONFIG, IndexConfig(), train_days=TRAIN_DAYS, ground_truth=ground_truth)


@pytest.fixture(scope="module")
def finetuned(initial: VersionSummary, shop: Path) -> VersionSummary:
    return finetune_version(initial.output, shop, [NEW_DAY], initial.output.parent / "2", CONFIG)


def test_two_tower_beats_popularity_and_the_ranker_separates_clicks(initial: VersionSummary) -> None:
    e = initial.evaluation
    assert e.metric("two_tower", "recall@100") > 1.3 * e.metric("popularity", "recall@100")
    assert e.metric("oracle", "recall@100") > e.metric("two_tower", "recall@100")
    assert e.ranking["auc"] > 0.75
    assert initial.throughput["two_tower"] > 0 and initial.throughput["dlrm"] > 0


def test_report_has_every_method_for_every_user_segment(initial: VersionSummary) -> None:
    print("\n" + markdown(initial.evaluation.retrieval))  # the numbers, with pytest -s
    content = json.loads((initial.output / artifacts.EVALUATION_DIR / "report.json").read_text())
    pairs = {(r["method"], r["segment"]) for r in content["retrieval"]}
    methods = {
        "popularity",
        "two_tower",
        "two_tower+dlrm",
        "two_tower+dlrm_raw",
        "oracle",
        "oracle_observable",
    }
    segments = ("all", "registered", "new", "anonymous", "new_items")
    assert pairs == {(m, s) for m in methods for s in segments}
    assert (
        "| two_tower+dlrm | anonymous |"
        in (initial.output / artifacts.EVALUATION_DIR / "report.md").read_text()
    )
    assert {"auc", "logloss"} <= set(content["ranking"])


def test_final_score_is_fitted_on_the_held_out_day_and_reranks_better_than_the_ranker_alone(
    initial: VersionSummary,
) -> None:
    """The ranker's negatives are popular items, so alone it demotes what visitors click; the
    final score (ranker log-odds + item prior, fitted on a day neither model saw) must not."""
    saved = blend.load(initial.output / artifacts.DLRM_DIR)
    assert saved is not None
    _, weights = saved
    assert (weights.fit_day, weights.held_out) == (NEW_DAY, True)
    assert weights.prior_weight > 0 and weights.ranker_weight > 0
    e = initial.evaluation
    assert e.metric("two_tower+dlrm", "recall@100") > e.metric("two_tower+dlrm_raw", "recall@100")


def test_new_items_are_retrievable_from_content_alone(initial: VersionSummary) -> None:
    _, items = artifacts.load_items(initial.output / artifacts.ITEMS_FILE)
    new_items = items[ft.ITEM_ID] == OOV_INDEX
    assert new_items.any()
    embeddings = np.load(initial.output / artifacts.ITEM_EMBEDDINGS_FILE)
    assert len(np.unique(embeddings[new_items].round(5), axis=0)) > 1  # not one shared OOV vector
    tower = two_tower.load(initial.output / artifacts.TWO_TOWER_DIR)
    queries = {k: np.repeat(v[:1], 64, axis=0) for k, v in two_tower.dummy_inputs(tower.spec, 1).items()}
    queries[ft.TOP_CATEGORY] = np.arange(64) % tower.spec.cardinalities[ft.TOP_CATEGORY]
    _, rows = ItemIndex.load(initial.output / artifacts.INDEX_DIR).search(
        two_tower.query_embeddings(tower, queries)
    )
    assert new_items[rows.reshape(-1)].any()


def test_observable_oracle_is_the_oracle_where_history_reveals_the_persona(initial: VersionSummary) -> None:
    e = initial.evaluation
    for name in ("recall@100", "ndcg@100"):
        assert e.metric("oracle_observable", name, "registered") == e.metric("oracle", name, "registered")
    # An anonymous visitor hides the persona the full oracle ranks by.
    assert e.metric("oracle", "recall@100", "anonymous") > e.metric(
        "oracle_observable", "recall@100", "anonymous"
    )


def test_new_items_segment_counts_only_items_without_training_clicks(initial: VersionSummary) -> None:
    rows = [r for r in initial.evaluation.retrieval if r["segment"] == "new_items"]
    assert rows and all(r["queries"] > 0 for r in rows)
    # Popularity of training clicks: new items (no training clicks) never reach its top 100.
    assert initial.evaluation.metric("popularity", "recall@100", "new_items") == 0.0


def test_anonymous_visitors_get_context_aware_results(initial: VersionSummary) -> None:
    tower = two_tower.load(initial.output / artifacts.TWO_TOWER_DIR)
    q = two_tower.dummy_inputs(tower.spec, len(DEVICE_TYPES))
    q.update(
        {
            n: np.ones(len(DEVICE_TYPES), np.int64)
            for n in (ft.USER_ID, ft.GENDER, ft.AGE_BUCKET, ft.TOP_CATEGORY)
        }
    )
    q[ft.DEVICE] = np.arange(2, 2 + len(DEVICE_TYPES))
    _, rows = ItemIndex.load(initial.output / artifacts.INDEX_DIR).search(
        two_tower.query_embeddings(tower, q), 20
    )
    assert len({tuple(r) for r in rows.tolist()}) > 1
    segment = next(
        r for r in initial.evaluation.retrieval if r["method"] == "two_tower" and r["segment"] == "anonymous"
    )
    assert segment["recall@100"] > 0


def test_finetuning_freezes_the_candidate_tower_and_keeps_the_index_valid(
    initial: VersionSummary, finetuned: VersionSummary
) -> None:
    assert finetuned.accepted
    before = two_tower.load(initial.output / artifacts.TWO_TOWER_DIR)
    after = two_tower.load(finetuned.output / artifacts.TWO_TOWER_DIR)
    for a, b in zip(before.candidate_tower.get_weights(), after.candidate_tower.get_weights(), strict=True):
        assert a.tobytes() == b.tobytes()
    assert any(
        a.tobytes() != b.tobytes()
        for a, b in zip(before.query_tower.get_weights(), after.query_tower.get_weights(), strict=True)
    )
    _, items = artifacts.load_items(finetuned.output / artifacts.ITEMS_FILE)
    rebuilt = ItemIndex.build(two_tower.item_embeddings(after, items), IndexConfig())
    saved = (initial.output / artifacts.INDEX_DIR / "items.faiss").read_bytes()
    assert faiss.serialize_index(rebuilt.index).tobytes() == saved
    assert (finetuned.output / artifacts.INDEX_DIR / "items.faiss").read_bytes() == saved
    manifest = artifacts.read_manifest(finetuned.output)
    assert manifest["kind"] == "incremental" and manifest["new_days"] == [NEW_DAY]


def test_finetuned_ranker_trains_every_layer(initial: VersionSummary, finetuned: VersionSummary) -> None:
    before = dlrm.load(initial.output / artifacts.DLRM_DIR).get_weights()
    after = dlrm.load(finetuned.output / artifacts.DLRM_DIR).get_weights()
    changed = [a.tobytes() != b.tobytes() for a, b in zip(before, after, strict=True)]
    assert sum(changed) > len(changed) // 2


def test_onnx_exports_score_like_the_keras_models(finetuned: VersionSummary) -> None:
    paths = export_version(finetuned.output, "onnx")
    _, items = artifacts.load_items(finetuned.output / artifacts.ITEMS_FILE)
    tower = two_tower.load(finetuned.output / artifacts.TWO_TOWER_DIR)
    rng = np.random.default_rng(0)
    n = 50
    queries = two_tower.dummy_inputs(tower.spec, n)
    for name in two_tower.QUERY_CATEGORICAL:
        queries[name] = rng.integers(0, tower.spec.cardinalities[name], n)
    queries[ft.RECENT_ITEMS] = rng.integers(
        0, tower.spec.cardinalities[ft.RECENT_ITEMS], (n, tower.spec.recent_items)
    )
    for name in two_tower.QUERY_DENSE:
        queries[name] = rng.normal(size=n).astype(np.float32)
    query_onnx = OnnxModel(paths["query_tower"])
    np.testing.assert_allclose(query_onnx(queries), two_tower.query_embeddings(tower, queries), atol=1e-5)

    # The exported ranking model returns the final score: the Keras ranker's probability blended
    # with the item prior exactly as the NumPy reference (models.blend) does it.
    ranker = dlrm.load(finetuned.output / artifacts.DLRM_DIR)
    saved = blend.load(finetuned.output / artifacts.DLRM_DIR)
    assert saved is not None
    log_prior, weights = saved
    features = {
        **ft.take(queries, np.arange(n)),
        **ft.take(items, rng.integers(0, len(items[ft.ITEM_ID]), n)),
    }
    features[ft.ITEM_ID][:3] = OOV_INDEX  # items released after training: the new-item prior
    assert log_prior[OOV_INDEX] > 0
    expected = blend.blend_scores(dlrm.predict(ranker, features), log_prior[features[ft.ITEM_ID]], weights)
    served = OnnxModel(paths["dlrm_ranking"])(features).reshape(-1)
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-7)
    assert np.array_equal(np.argsort(-served, kind="stable")[:10], np.argsort(-expected, kind="stable")[:10])
    # ... and through the simplified graphs (models.onnx_simplify): tf2onnx's index fix-ups are gone
    for path in paths.values():
        assert "Less" not in {node.op_type for node in onnx.load(str(path)).graph.node}, path


def test_a_finetune_with_too_few_held_out_queries_is_not_promoted_and_says_so(
    initial: VersionSummary, finetuned: VersionSummary, shop: Path
) -> None:
    strict = CONFIG.model_copy(update={"fine_tune": FineTuneConfig(min_eval_queries=1_000_000)})
    out = initial.output.parent / "2-strict"
    refused = finetune_version(initial.output, shop, [NEW_DAY], out, strict)
    queries = refused.evaluation.gate_inputs().queries
    assert 0 < queries < 1_000_000 and queries == finetuned.evaluation.gate_inputs().queries
    assert refused.verdict is not None and refused.verdict.reason == "TooLittleEvidence"
    assert not refused.accepted and not out.exists()  # nothing written: the serving version stays
    assert f"evaluated on {queries} held-out queries" in refused.verdict.message
    # the serving version was measured on the same queries, so the numbers can be compared
    assert refused.serving is not None and refused.serving.gate_inputs().queries == queries
