"""Initial training and incremental fine-tuning of one model version, end to end.

`train_version`: fit transforms → content embeddings → two-tower → FAISS index → DLRM →
evaluation report → artifacts (layout in `models.artifacts`). `finetune_version`: new days
plus a replay sample of history; query tower with the candidate tower frozen (item
embeddings and index stay valid), ranker fully trainable; written only if evaluation does
not regress beyond the tolerance.

The step functions (`fit_step` … `evaluate_step`) are what the pipeline components run,
one per process; the Keras modules are imported only by the steps that need them, so the
transforms, content and index steps start without TensorFlow.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from recsys_workloads.contracts.gate import GateInputs, GateVerdict, gate_verdict
from recsys_workloads.contracts.index import IndexConfig
from recsys_workloads.contracts.models import ModelsConfig
from recsys_workloads.data import schema as s
from recsys_workloads.data.ground_truth import load_ground_truth
from recsys_workloads.evaluation import report
from recsys_workloads.evaluation.metrics import auc, logloss
from recsys_workloads.evaluation.retrieval import (
    RetrievalTask,
    observable_oracle_ranking,
    oracle_ranking,
    popularity_ranking,
    popularity_scores,
    rerank,
    retrieval_task,
)
from recsys_workloads.features import transform as ft
from recsys_workloads.features.fit import Examples, examples, fit_transforms, item_features
from recsys_workloads.features.tables import (
    Catalog,
    Interactions,
    Users,
    load_catalog,
    load_interactions,
    load_users,
)
from recsys_workloads.index.item_index import ItemIndex
from recsys_workloads.models import artifacts

if TYPE_CHECKING:
    from recsys_workloads.models import two_tower
    from recsys_workloads.models.blend import ScoreBlend

Content = Mapping[str, npt.NDArray[np.float32]]
Blend = tuple[npt.NDArray[np.float64], "ScoreBlend"]  # (item-id log prior, fitted weights)
EVAL_K = 100


@dataclass(frozen=True)
class Shop:
    catalog: Catalog
    users: Users
    interactions: Interactions

    @classmethod
    def load(cls, dataset: Path) -> Shop:
        return cls(load_catalog(dataset), load_users(dataset), load_interactions(dataset))

    @property
    def days(self) -> list[int]:
        return sorted(int(d) for d in np.unique(self.interactions.day))


def clicks_only(ex: Examples) -> Examples:
    keep = ex.label > 0
    return Examples(ft.take(ex.query, keep), ex.item_row[keep], ex.label[keep], ex.day[keep])


def compute_content(
    shop: Shop, dataset: Path, config: ModelsConfig, output: Path, cache_dir: Path
) -> Content:
    from recsys_workloads.embeddings.items import item_content

    images = [dataset / s.IMAGES_DIR / f"{i}.png" for i in shop.catalog.item_ids.tolist()]
    return item_content(
        shop.catalog.descriptions.tolist(), images, config.embeddings, cache_dir, output / "embeddings"
    ).vectors


@dataclass(frozen=True)
class Evaluation:
    retrieval: list[dict[str, Any]]
    ranking: dict[str, float]

    def metric(self, method: str, name: str, segment: str = "all") -> float:
        return float(
            next(r[name] for r in self.retrieval if r["method"] == method and r["segment"] == segment)
        )

    def gate_inputs(self) -> GateInputs:
        """What the incremental gate compares: recall@100 and AUC, and the queries they average over."""
        return GateInputs(
            recall_at_k=self.metric("two_tower", "recall@100"),
            auc=float(self.ranking["auc"]),
            queries=int(self.metric("two_tower", "queries")),
        )


def evaluate(
    shop: Shop,
    t: ft.FittedTransforms,
    items: Mapping[str, npt.NDArray[np.generic]],
    tower: two_tower.TwoTowerModel,
    ranker: Any,
    index: ItemIndex,
    day: int,
    *,
    popularity: npt.NDArray[np.float64],
    ground_truth: Path | None,
    negatives_per_positive: int,
    seed: int,
    final: Blend | None = None,
    max_queries: int | None = 5_000,
) -> Evaluation:
    """Popularity, two-tower, two-tower + ranker and (with ground truth) both oracles on `day`.

    "two_tower+dlrm" ranks the retrieved candidates as serving does: by the final score when
    `final` is given (`models.blend`), else by the ranker's probability; "two_tower+dlrm_raw"
    is always the ranker alone, so the blend's effect is measured in the same run.
    "oracle_observable" is the fair ceiling: the oracle limited to what a model observes.
    """
    from recsys_workloads.models import dlrm, train

    task = retrieval_task(
        t, shop.catalog, shop.users, shop.interactions, shop.interactions, day, max_queries, seed
    )
    retrieved, probability = _candidates(task, tower, index, ranker, items, shop.catalog)
    raw = _rerank_by(retrieved, probability)
    served = raw if final is None else _rerank_by(retrieved, _final(probability, retrieved, items, final))
    rankings = {
        "popularity": popularity_ranking(task, popularity, EVAL_K),
        "two_tower": retrieved[:, :EVAL_K],
        "two_tower+dlrm": served,
        "two_tower+dlrm_raw": raw,
    }
    if ground_truth is not None:
        truth = load_ground_truth(ground_truth)
        rankings["oracle"] = oracle_ranking(task, truth, shop.catalog, EVAL_K)
        rankings["oracle_observable"] = observable_oracle_ranking(
            task, truth, shop.catalog, EVAL_K, seed=seed
        )
    held_out = examples(t, shop.catalog, shop.users, shop.interactions, shop.interactions, [day])
    rows = train.ranking_rows(
        held_out, len(shop.catalog), negatives_per_positive, np.random.default_rng(seed + 1), popularity + 1
    )
    p = dlrm.predict(ranker, train.ranking_features(held_out, rows, items))
    real = np.arange(len(rows.label)) < len(held_out)  # clicks and real impressions only
    ranking = {
        "auc": auc(rows.label, p),
        "logloss": logloss(rows.label, p),
        "auc_impressions": auc(rows.label[real], p[real]),
        "logloss_impressions": logloss(rows.label[real], p[real]),
    }
    if final is not None:  # the final score's AUC on the same rows (it also ranks by the prior)
        scored = _final(p, rows.item_row, items, final)
        ranking["auc_final"] = auc(rows.label, scored)
        ranking["auc_final_impressions"] = auc(rows.label[real], scored[real])
    return Evaluation(report.retrieval_table(task, rankings), ranking)


def _candidates(
    task: RetrievalTask,
    tower: two_tower.TwoTowerModel,
    index: ItemIndex,
    ranker: Any,
    items: Mapping[str, npt.NDArray[np.generic]],
    catalog: Catalog,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Retrieved catalog rows (-1: none) and the ranker's probability of each, one row per query.

    Items released after the task's day are left out: the shop did not sell them yet.
    """
    from recsys_workloads.models import dlrm, two_tower

    released = catalog.first_day <= task.day
    _, retrieved = index.search(two_tower.query_embeddings(tower, task.query), allowed=released)
    n, k = retrieved.shape
    query_rows = np.repeat(np.arange(n), k)  # unroll each query over its candidates
    features = {**ft.take(task.query, query_rows), **ft.take(items, np.maximum(retrieved.reshape(-1), 0))}
    return retrieved, dlrm.predict(ranker, features).reshape(n, k)


def _final(
    probability: npt.NDArray[np.float32],
    item_rows: npt.NDArray[np.int64],
    items: Mapping[str, npt.NDArray[np.generic]],
    final: Blend,
) -> npt.NDArray[np.float64]:
    from recsys_workloads.models.blend import blend_scores

    log_prior, weights = final
    item_id = np.asarray(items[ft.ITEM_ID], dtype=np.int64)[np.maximum(item_rows, 0)]
    return blend_scores(probability, log_prior[item_id], weights)


def _rerank_by(retrieved: npt.NDArray[np.int64], scores: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    return rerank(retrieved, np.where(retrieved >= 0, scores, -np.inf).astype(np.float32), EVAL_K)


def item_log_prior(
    t: ft.FittedTransforms,
    items: Mapping[str, npt.NDArray[np.generic]],
    clicks: Interactions,
    catalog: Catalog,
) -> npt.NDArray[np.float64]:
    """log1p(training clicks) per item-id vocabulary index: the exposure prior of the final score."""
    from recsys_workloads.models.blend import item_log_prior as prior

    item_id = np.asarray(items[ft.ITEM_ID], dtype=np.int64)[catalog.rows(clicks.item_id)]
    return prior(item_id, t.cardinality(ft.ITEM_ID))


def fit_final_score(
    shop: Shop,
    t: ft.FittedTransforms,
    items: Mapping[str, npt.NDArray[np.generic]],
    tower: two_tower.TwoTowerModel,
    ranker: Any,
    index: ItemIndex,
    log_prior: npt.NDArray[np.float64],
    day: int,
    *,
    held_out: bool,
    seed: int,
    max_queries: int | None = 5_000,
) -> Blend:
    """Fit the final score on `day`'s retrieved candidates (label: the visitor clicked the item that day).

    Returns the prior with the new-item bucket filled (`blend.with_new_item_prior`) and the weights.
    """
    from recsys_workloads.models.blend import fit_blend, with_new_item_prior

    task = retrieval_task(
        t, shop.catalog, shop.users, shop.interactions, shop.interactions, day, max_queries, seed
    )
    retrieved, probability = _candidates(task, tower, index, ranker, items, shop.catalog)
    relevant = np.zeros(retrieved.shape, dtype=bool)
    for i, clicked in enumerate(task.relevant):
        relevant[i] = np.isin(retrieved[i], clicked)
    valid = retrieved >= 0
    item_id = np.asarray(items[ft.ITEM_ID], dtype=np.int64)[np.maximum(retrieved, 0)]
    prior = with_new_item_prior(log_prior, item_id[valid])
    weights = fit_blend(
        probability[valid], prior[item_id][valid], relevant[valid], fit_day=day, held_out=held_out
    )
    return prior, weights


def blend_day(days: list[int], train_days: list[int], eval_day: int) -> tuple[int, bool]:
    """The latest day neither model trained on, before the evaluation day; else the last training day."""
    trained = set(train_days)
    free = [d for d in days if d not in trained and d < eval_day]
    return (max(free), True) if free else (max(train_days), False)


@dataclass(frozen=True)
class VersionSummary:
    output: Path
    evaluation: Evaluation
    throughput: dict[str, float]
    accepted: bool = True
    verdict: GateVerdict | None = None  # incremental runs: the gate's reason, in numbers
    serving: Evaluation | None = None  # incremental runs: the serving version on the same queries


def _update_manifest(output: Path, changes: Mapping[str, Any]) -> None:
    """Each step adds its part, so a version folder says how far training got."""
    current = artifacts.read_manifest(output) if (output / artifacts.MANIFEST).exists() else {}
    artifacts.write_manifest(output, {**current, **changes})


@dataclass(frozen=True)
class _Trained:
    """What every step after `fit_step` reads back from the version folder."""

    transforms: ft.FittedTransforms
    items: dict[str, npt.NDArray[np.generic]]
    days: list[int]
    eval_day: int
    train_rows: Interactions

    @classmethod
    def load(cls, shop: Shop, output: Path) -> _Trained:
        manifest = artifacts.read_manifest(output)
        days = [int(d) for d in manifest["train_days"]]
        return cls(
            ft.FittedTransforms.load(output / artifacts.TRANSFORMS_DIR),
            artifacts.load_items(output / artifacts.ITEMS_FILE)[1],
            days,
            int(manifest["eval_day"]),
            shop.interactions.select(np.isin(shop.interactions.day, days)),
        )

    def popularity(self, shop: Shop) -> npt.NDArray[np.float64]:
        return popularity_scores(self.train_rows.select(self.train_rows.clicked), shop.catalog)

    def training_examples(self, shop: Shop) -> Examples:
        return examples(
            self.transforms, shop.catalog, shop.users, shop.interactions, self.train_rows, self.days
        )


def fit_step(
    shop: Shop,
    output: Path,
    config: ModelsConfig,
    train_days: list[int] | None = None,
    history_memory_days: int | None = None,
) -> None:
    """Fit the transforms on `train_days` (default: all but the last `validation_days`).

    `history_memory_days`: how long the online store keeps a visitor's history (None: forever),
    so the models train on the history serving will see. The user profiles the ranker learns
    from are published with the version: the online user lookup reads the same ones.
    """
    days = train_days if train_days is not None else shop.days[: -config.validation_days]
    train_rows = shop.interactions.select(np.isin(shop.interactions.day, days))
    memory_s = None if history_memory_days is None else history_memory_days * s.SECONDS_PER_DAY
    t = fit_transforms(shop.catalog, shop.users, train_rows, config.recent_items, memory_s)
    output.mkdir(parents=True, exist_ok=True)
    t.save(output / artifacts.TRANSFORMS_DIR)
    users = shop.users
    artifacts.save_users(output / artifacts.USERS_FILE, users.user_ids, users.age, users.gender)
    _update_manifest(
        output,
        {
            "kind": "initial",
            "transforms_version": t.version,
            "train_days": days,
            "eval_day": shop.days[-1],
            "config": config.model_dump(),
        },
    )


def content_step(
    shop: Shop,
    dataset: Path,
    output: Path,
    config: ModelsConfig,
    *,
    content: Content | None = None,
    cache_dir: Path | None = None,
) -> None:
    """Multimodal content embeddings joined with the transformed item features (the item cache)."""
    t = ft.FittedTransforms.load(output / artifacts.TRANSFORMS_DIR)
    vectors = (
        content
        if content is not None
        else compute_content(shop, dataset, config, output, cache_dir or output / "cache")
    )
    items = item_features(t, shop.catalog, vectors)
    artifacts.save_items(output / artifacts.ITEMS_FILE, shop.catalog.item_ids, items)


def _throughput(output: Path, model: str, value: float) -> dict[str, float]:
    current = artifacts.read_manifest(output).get("examples_per_second", {})
    return {**current, model: value}


def two_tower_step(shop: Shop, output: Path, config: ModelsConfig) -> None:
    """Train the two-tower on the training clicks; write it and the candidate-tower item vectors."""
    from recsys_workloads.models import train, two_tower

    state = _Trained.load(shop, output)
    clicks = clicks_only(state.training_examples(shop))
    task = retrieval_task(
        state.transforms, shop.catalog, shop.users, shop.interactions, shop.interactions,
        state.eval_day, 1_000, config.seed,
    )  # fmt: skip
    from recsys_workloads.models.callbacks import RetrievalMetrics

    tracker = RetrievalMetrics(task.query, task.relevant, state.items, config.two_tower.eval_k)
    tt = train.train_two_tower(
        state.transforms, clicks, state.items, config.two_tower, config.cold_start, config.seed, [tracker]
    )
    two_tower.save(tt.model, output / artifacts.TWO_TOWER_DIR)
    np.save(output / artifacts.ITEM_EMBEDDINGS_FILE, two_tower.item_embeddings(tt.model, state.items))
    _update_manifest(
        output,
        {
            "two_tower_history": tt.history,
            "examples_per_second": _throughput(output, "two_tower", tt.examples_per_second),
        },
    )


def index_step(output: Path, index_config: IndexConfig) -> None:
    """FAISS index over the candidate-tower item vectors."""
    embeddings = np.load(output / artifacts.ITEM_EMBEDDINGS_FILE)
    ItemIndex.build(embeddings, index_config).save(output / artifacts.INDEX_DIR)
    _update_manifest(output, {"index": index_config.model_dump()})


def dlrm_step(shop: Shop, output: Path, config: ModelsConfig) -> None:
    """Train the DLRM ranker on clicks, impressions and popularity-sampled negatives."""
    from recsys_workloads.models import dlrm, train

    state = _Trained.load(shop, output)
    ex = state.training_examples(shop)
    rng = np.random.default_rng(config.seed)
    rows = train.ranking_rows(
        ex, len(shop.catalog), config.dlrm.negatives_per_positive, rng, state.popularity(shop) + 1
    )
    rk = train.train_dlrm(
        state.transforms, ex, rows, state.items, config.dlrm, config.cold_start, config.seed
    )
    dlrm.save(rk.model, output / artifacts.DLRM_DIR)
    del ex, rows  # GBs at full scale, where the blend fit below was OOM-killed while they lived
    final = _fit_and_save_blend(shop, state, output, rk.model, config.seed)
    _update_manifest(
        output,
        {
            "dlrm_history": rk.history,
            "examples_per_second": _throughput(output, "dlrm", rk.examples_per_second),
            "score_blend": final.model_dump(),
        },
    )


def _fit_and_save_blend(shop: Shop, state: _Trained, output: Path, ranker: Any, seed: int) -> ScoreBlend:
    """The final score's weights, fitted on retrieved candidates of a day the models did not train on."""
    from recsys_workloads.models import blend, two_tower

    clicks = state.train_rows.select(state.train_rows.clicked)
    log_prior = item_log_prior(state.transforms, state.items, clicks, shop.catalog)
    day, held_out = blend_day(shop.days, state.days, state.eval_day)
    log_prior, weights = fit_final_score(
        shop, state.transforms, state.items,
        two_tower.load(output / artifacts.TWO_TOWER_DIR), ranker, ItemIndex.load(output / artifacts.INDEX_DIR),
        log_prior, day, held_out=held_out, seed=seed,
    )  # fmt: skip
    blend.save(output / artifacts.DLRM_DIR, log_prior, weights)
    return weights


def evaluate_step(
    shop: Shop, output: Path, config: ModelsConfig, *, ground_truth: Path | None = None
) -> Evaluation:
    """Evaluate the trained version on its eval day; write the report and the ranking metrics."""
    from recsys_workloads.models import blend, dlrm, two_tower

    state = _Trained.load(shop, output)
    evaluation = evaluate(
        shop, state.transforms, state.items,
        two_tower.load(output / artifacts.TWO_TOWER_DIR), dlrm.load(output / artifacts.DLRM_DIR),
        ItemIndex.load(output / artifacts.INDEX_DIR), state.eval_day,
        popularity=state.popularity(shop), ground_truth=ground_truth,
        negatives_per_positive=config.dlrm.negatives_per_positive, seed=config.seed,
        final=blend.load(output / artifacts.DLRM_DIR),
    )  # fmt: skip
    report.write_report(output / artifacts.EVALUATION_DIR, evaluation.retrieval, evaluation.ranking)
    _update_manifest(output, {"ranking": evaluation.ranking})
    return evaluation


def train_version(
    dataset: Path,
    output: Path,
    config: ModelsConfig,
    index_config: IndexConfig,
    *,
    train_days: list[int] | None = None,
    content: Content | None = None,
    ground_truth: Path | None = None,
    cache_dir: Path | None = None,
    history_memory_days: int | None = None,
) -> VersionSummary:
    """Train on `train_days` (default: all but the last `validation_days`), evaluate on the last day.

    The composition of the step functions the initial pipeline runs one per component.
    """
    shop = Shop.load(dataset)
    fit_step(shop, output, config, train_days, history_memory_days)
    content_step(shop, dataset, output, config, content=content, cache_dir=cache_dir)
    two_tower_step(shop, output, config)
    index_step(output, index_config)
    dlrm_step(shop, output, config)
    evaluation = evaluate_step(shop, output, config, ground_truth=ground_truth)
    throughput = artifacts.read_manifest(output)["examples_per_second"]
    return VersionSummary(output, evaluation, {k: float(v) for k, v in throughput.items()})


def finetune_version(
    previous: Path,
    dataset: Path,
    new_days: list[int],
    output: Path,
    config: ModelsConfig,
    *,
    eval_day: int | None = None,
    ground_truth: Path | None = None,
) -> VersionSummary:
    """Fine-tune `previous` on `new_days` + replay; evaluate old and new on `eval_day` (default: last day).

    The transforms, item cache, item embeddings and index are copied unchanged: the
    candidate tower is frozen, so the index built from it stays valid.
    """
    from recsys_workloads.models import blend, dlrm, train, two_tower
    from recsys_workloads.models.finetune import (
        finetune_dlrm,
        finetune_query_tower,
        replay_sample,
    )

    shop = Shop.load(dataset)
    eval_day = eval_day if eval_day is not None else shop.days[-1]
    t = ft.FittedTransforms.load(previous / artifacts.TRANSFORMS_DIR)
    _, items = artifacts.load_items(previous / artifacts.ITEMS_FILE)
    index = ItemIndex.load(previous / artifacts.INDEX_DIR)
    manifest = artifacts.read_manifest(previous)
    seen_days = [d for d in manifest["train_days"] if d not in new_days]
    rng = np.random.default_rng(config.seed)
    new_ex = examples(t, shop.catalog, shop.users, shop.interactions, shop.interactions, new_days)
    old_ex = examples(t, shop.catalog, shop.users, shop.interactions, shop.interactions, seen_days)
    mixed = replay_sample(new_ex, old_ex, config.fine_tune.replay_ratio, rng)
    train_rows = shop.interactions.select(np.isin(shop.interactions.day, [*seen_days, *new_days]))
    popularity = popularity_scores(train_rows.select(train_rows.clicked), shop.catalog)

    def evaluate_models(tower: two_tower.TwoTowerModel, ranker: Any, final: Blend | None) -> Evaluation:
        return evaluate(
            shop, t, items, tower, ranker, index, eval_day,
            popularity=popularity, ground_truth=ground_truth,
            negatives_per_positive=config.dlrm.negatives_per_positive, seed=config.seed, final=final,
        )  # fmt: skip

    before = evaluate_models(
        two_tower.load(previous / artifacts.TWO_TOWER_DIR),
        dlrm.load(previous / artifacts.DLRM_DIR),
        blend.load(previous / artifacts.DLRM_DIR),
    )
    tower = two_tower.load(previous / artifacts.TWO_TOWER_DIR)
    tt = finetune_query_tower(
        tower, clicks_only(mixed), items, config.fine_tune, config.cold_start, config.seed
    )
    ranker = dlrm.load(previous / artifacts.DLRM_DIR)
    rows = train.ranking_rows(
        mixed, len(shop.catalog), config.dlrm.negatives_per_positive, rng, popularity + 1
    )
    rk = finetune_dlrm(
        ranker, mixed, rows, items, config.fine_tune, config.dlrm.batch_size, config.cold_start, config.seed
    )
    # The ranker's log-odds moved: refit the final score (the prior now counts the new days too).
    log_prior = item_log_prior(t, items, train_rows.select(train_rows.clicked), shop.catalog)
    day, held_out = blend_day(shop.days, [*seen_days, *new_days], eval_day)
    log_prior, weights = fit_final_score(
        shop, t, items, tower, ranker, index, log_prior, day, held_out=held_out, seed=config.seed
    )
    after = evaluate_models(tower, ranker, (log_prior, weights))

    verdict = gate_verdict(before.gate_inputs(), after.gate_inputs(), config.fine_tune)
    accepted = verdict.accepted
    throughput = {"two_tower": tt.examples_per_second, "dlrm": rk.examples_per_second}
    if accepted:
        output.mkdir(parents=True, exist_ok=True)
        for name in (artifacts.TRANSFORMS_DIR, artifacts.INDEX_DIR, "embeddings"):
            if (previous / name).exists():
                shutil.copytree(previous / name, output / name, dirs_exist_ok=True)
        for name in (artifacts.ITEMS_FILE, artifacts.ITEM_EMBEDDINGS_FILE, artifacts.USERS_FILE):
            if (previous / name).exists():  # versions before users.npz serve profile-less
                shutil.copy2(previous / name, output / name)
        two_tower.save(tower, output / artifacts.TWO_TOWER_DIR)
        dlrm.save(ranker, output / artifacts.DLRM_DIR)
        blend.save(output / artifacts.DLRM_DIR, log_prior, weights)
        report.write_report(output / artifacts.EVALUATION_DIR, after.retrieval, after.ranking)
        artifacts.write_manifest(
            output,
            {
                **manifest,
                "kind": "incremental",
                "parent": str(previous),
                "train_days": sorted({*manifest["train_days"], *new_days}),
                "new_days": new_days,
                "eval_day": eval_day,
                "examples_per_second": throughput,
                "before": {
                    "recall@100": before.metric("two_tower", "recall@100"),
                    "reranked_recall@100": before.metric("two_tower+dlrm", "recall@100"),
                    **before.ranking,
                },
                "ranking": after.ranking,
                "score_blend": weights.model_dump(),
                "finished_at": time.time(),
            },
        )
    return VersionSummary(output, after, throughput, accepted, verdict, before)
