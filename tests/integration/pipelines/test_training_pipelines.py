"""The initial and incremental pipelines end to end through the local runner, on a tiny shop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.contracts.runs import RunStatus
from recsys_workloads.models import artifacts
from recsys_workloads.pipelines.runner import LocalRunner
from recsys_workloads.serving.triton.rollout import versions

TINY_MODELS = {
    "twoTower": {
        "epochs": 1,
        "batchSize": 128,
        "embeddingDim": 16,
        "idEmbeddingDim": 8,
        "queryLayers": [32],
        "candidateLayers": [32],
    },
    "dlrm": {
        "epochs": 1,
        "batchSize": 256,
        "embeddingDim": 8,
        "bottomLayers": [16, 8],
        "topLayers": [16],
        "negativesPerPositive": 2,
    },
    "embeddings": {"textModel": "", "imageModel": "", "reducedDim": 4},
    # tiny data is noisy and small: this test checks the wiring (the gate: tests/unit/models/test_gate.py)
    "fineTune": {"regressionTolerance": 1.0, "minEvalQueries": 1},
}
GENERATOR = {"users": 150, "items": 120, "interactions": 3_000, "days": 4, "images": False}
# SQLite online store: no server needed; text + image embeddings are 4 + 4 floats
FEATURE_STORE = {
    "onlineStore": {"type": "sqlite", "path": "online.db"},
    "registry": "registry.db",
    "embeddingDim": 8,
}


def leftovers(models: Path) -> list[str]:
    """What the model volume holds besides versions and the event service's catalog (the
    `catalog` link and the one folder it names)."""
    catalog = models / "catalog"
    assert catalog.is_symlink() and (catalog / "items.parquet").is_file()
    return sorted(
        p.name
        for p in models.iterdir()
        if not p.name.isdigit() and p not in (catalog, models / catalog.readlink())
    )


def tiny_config(root: Path, **changes: Any) -> PipelineConfig:
    base = {
        "dataSources": {"layout": "generated", "generator": GENERATOR},
        "models": TINY_MODELS,
        "artifactRoot": str(root / "artifacts"),
        "modelRepository": str(root / "models"),
    }
    return PipelineConfig.model_validate({**base, **changes})


@dataclass(frozen=True)
class Runs:
    root: Path
    runner: LocalRunner
    initial: RunStatus
    incremental: RunStatus

    @property
    def models(self) -> Path:
        return self.root / "models"

    def log(self, run_id: str) -> str:
        return (self.root / "runs" / run_id / "run.log").read_text()[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("pipelines")
    runner = LocalRunner(root / "runs")
    # days 0-3 from 2026-01-05 (UTC): the window keeps days 0 and 1; day 3 is held out anyway
    initial = tiny_config(root, featureStore=FEATURE_STORE, dataWindow={"end": "2026-01-07T00:00:00Z"})
    first = runner.wait(runner.submit("initial", {"config": initial.to_argument()}, "initial"), 300)
    assert first.state == "SUCCEEDED", (root / "runs" / "initial" / "run.log").read_text()[-4000:]
    config = tiny_config(root, runType="Incremental")
    second = runner.wait(runner.submit("incremental", {"config": config.to_argument()}, "incremental"), 300)
    assert second.state == "SUCCEEDED", (root / "runs" / "incremental" / "run.log").read_text()[-4000:]
    return Runs(root, runner, first, second)


def _metadata(status: RunStatus, name: str) -> dict[str, Any]:
    output = status.outputs[name]
    assert isinstance(output, dict)
    return dict(output["metadata"])


def test_initial_publishes_version_1_with_metrics_report_and_onnx_models(runs: Runs) -> None:
    assert versions(runs.models) == [1, 2]
    assert runs.initial.outputs["version"] == 1
    metrics = _metadata(runs.initial, "metrics")
    assert {"recall_at_k", "ndcg_at_k", "auc", "logloss", "k"} <= set(metrics)
    assert 0 <= metrics["recall_at_k"] <= 1 and 0 <= metrics["auc"] <= 1
    report = Path(str(runs.initial.outputs["report"]["path"]))  # type: ignore[index]
    assert "| two_tower |" in report.read_text()
    v1 = runs.models / "1"
    for name in (artifacts.QUERY_TOWER_ONNX, artifacts.DLRM_ONNX):
        assert (v1 / artifacts.EXPORT_DIR / name).stat().st_size > 0
    manifest = artifacts.read_manifest(v1)
    assert manifest["kind"] == "initial" and manifest["train_days"] == [0, 1] and manifest["eval_day"] == 3
    assert leftovers(runs.models) == []  # no staging left over
    # the artifact store keeps a copy of each published version
    stored = runs.root / "artifacts" / "homepage" / "versions" / "1"
    assert (stored / artifacts.MANIFEST).read_bytes() == (v1 / artifacts.MANIFEST).read_bytes()


def test_each_run_records_the_outputs_the_kfp_runner_reads_back(runs: Runs) -> None:
    """`record_outputs` writes what KFP's API cannot give; it must equal what kfp.local returns."""
    recorded = [
        json.loads(p.read_text())
        for p in (runs.root / "artifacts" / "homepage" / "runs").glob("*/outputs.json")
    ]
    by_version = {doc["version"]: doc for doc in recorded}
    assert sorted(by_version) == [1, 2]
    for status in (runs.initial, runs.incremental):
        doc = by_version[status.outputs["version"]]
        assert doc["metrics"]["metadata"] == _metadata(status, "metrics")
        assert doc.get("accepted") == status.outputs.get("accepted")
        assert doc["metrics"]["uri"] and doc["report"]["uri"]
        assert doc["data"]["metadata"] == _metadata(status, "data")


def test_each_run_reports_what_its_data_step_read_kept_and_dropped(runs: Runs) -> None:
    from recsys_operator.reconcilers.training_run import run_outputs

    data = _metadata(runs.initial, "data")
    assert data["items"] == GENERATOR["items"] and data["interactions"] > 0
    # The generated shop is ingested strictly: nothing unknown, so nothing kept or dropped.
    assert (data["profile_less_users"], data["dropped_interactions"], data["unknown_items"]) == (0, 0, 0)
    status = run_outputs(runs.incremental)["data"]
    assert status["items"] == GENERATOR["items"] and status["droppedInteractions"] == 0
    # which days each run trained and was evaluated on, as the manifests say
    days = {run: run_outputs(getattr(runs, run))["metrics"] for run in ("initial", "incremental")}
    assert [days["initial"][k] for k in ("firstTrainedDay", "lastTrainedDay", "trainedDays", "evalDay")] == [
        0,
        1,
        2,
        3,
    ]
    assert [
        days["incremental"][k] for k in ("firstTrainedDay", "lastTrainedDay", "trainedDays", "evalDay")
    ] == [2, 2, 1, 3]


def test_every_step_prints_progress_and_logs_its_timing(runs: Runs) -> None:
    from recsys_workloads.pipelines.steps import step_timings

    timings = step_timings((runs.root / "runs" / "initial" / "run.log").read_text())
    expected = {
        "prepare_data", "fit_transforms", "content_embeddings", "train_two_tower", "build_index",
        "train_dlrm", "evaluate", "materialize_features", "export_model",
    }  # fmt: skip
    assert expected <= set(timings)
    assert all(seconds >= 0 for seconds in timings.values())
    assert "[train_two_tower] finished in" in (runs.root / "runs" / "initial" / "run.log").read_text()


def test_initial_materialises_the_versions_item_and_user_features_online(runs: Runs) -> None:
    from recsys_workloads import feature_store as fs

    ids, _ = artifacts.load_items(runs.models / "1" / artifacts.ITEMS_FILE)
    store = fs.open_store(runs.root / "artifacts" / "homepage" / "feature_repo")
    refs = ["item_embeddings:embedding", "item_popularity:rank_global", "item_attributes:category_l1"]
    online = fs.online_features(store, refs, [{"item_id": str(i)} for i in ids[:5]])
    assert all(len(e) == 8 for e in online["embedding"])
    assert None not in online["rank_global"] and None not in online["category_l1"]


def test_incremental_fine_tunes_on_the_new_day_and_keeps_the_candidate_tower_and_index(runs: Runs) -> None:
    from recsys_workloads.models import two_tower

    assert runs.incremental.outputs["accepted"] is True
    assert runs.incremental.outputs["version"] == 2  # what the operator promotes
    assert {"recall_at_k", "auc", "accepted"} <= set(_metadata(runs.incremental, "metrics"))
    v1, v2 = runs.models / "1", runs.models / "2"
    manifest = artifacts.read_manifest(v2)
    assert manifest["kind"] == "incremental" and manifest["new_days"] == [2] and manifest["eval_day"] == 3
    index = Path(artifacts.INDEX_DIR) / "items.faiss"
    assert (v1 / index).read_bytes() == (v2 / index).read_bytes()
    before = two_tower.load(v1 / artifacts.TWO_TOWER_DIR)
    after = two_tower.load(v2 / artifacts.TWO_TOWER_DIR)
    for a, b in zip(before.candidate_tower.get_weights(), after.candidate_tower.get_weights(), strict=True):
        assert a.tobytes() == b.tobytes()
    assert any(
        a.tobytes() != b.tobytes()
        for a, b in zip(before.query_tower.get_weights(), after.query_tower.get_weights(), strict=True)
    )
    assert (v2 / artifacts.EXPORT_DIR / artifacts.QUERY_TOWER_ONNX).read_bytes() != (
        v1 / artifacts.EXPORT_DIR / artifacts.QUERY_TOWER_ONNX
    ).read_bytes()


def test_a_failing_step_publishes_no_new_version(runs: Runs) -> None:
    corrupt = runs.root / "corrupt"
    corrupt.mkdir()
    (corrupt / "items.parquet").write_bytes(b"not parquet")
    config = tiny_config(
        runs.root, runType="Incremental", dataSources={"layout": "seed", "uri": str(corrupt)}
    )
    status = runs.runner.wait(
        runs.runner.submit("incremental", {"config": config.to_argument()}, "corrupt"), 300
    )
    assert status.state == "FAILED"
    assert versions(runs.models) == [1, 2]
    assert leftovers(runs.models) == []
    assert json.loads((runs.models / "2" / artifacts.MANIFEST).read_text())["kind"] == "incremental"
