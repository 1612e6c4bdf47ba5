"""Training components: one per step of `models.pipeline`, each on its own version folder.

Each step copies its input version into its output artifact and adds its part, so a
failed step leaves the earlier artifacts intact and nothing on the model volume. Bodies
only wire: parse the config, time the step (`steps.timed`), call the library.

No `from __future__ import annotations` in component modules: kfp reads the artifact
types from the annotations at decoration time.
"""

from typing import NamedTuple, Optional

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output

from recsys_workloads.contracts.images import WORKLOADS_IMAGE


@dsl.component(base_image=WORKLOADS_IMAGE)
def training_resources(config: str) -> NamedTuple(  # type: ignore[valid-type]  # kfp reads this form
    "Placement", [("gpus", str), ("node_selector", dict), ("tolerations", list), ("model_claim", str)]
):  # fmt: skip
    """GPUs, nodeSelector, tolerations and the model volume's claim, read from the config at run time.

    Resource limits and kfp-kubernetes' JSON placement fields accept task outputs, so one
    compiled YAML serves every recommender's placement.
    """
    from collections import namedtuple

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.pipelines.materialize import feature_store_config
    from recsys_workloads.pipelines.steps import accelerator_limit, model_claim, node_selector, tolerations

    parsed = PipelineConfig.from_argument(config)
    feature_store_config(parsed)  # a bad featureStore fails here, before any training
    placement = namedtuple("placement", ["gpus", "node_selector", "tolerations", "model_claim"])
    return placement(
        accelerator_limit(parsed), node_selector(parsed), tolerations(parsed), model_claim(parsed)
    )


@dsl.component(base_image=WORKLOADS_IMAGE)
def fit_transforms(config: str, dataset: Input[Dataset], version: Output[Model]) -> None:
    """Vocabularies and feature statistics of the training days (the start of a version folder)."""
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.models.pipeline import Shop, fit_step
    from recsys_workloads.pipelines.steps import dataset_origin, initial_train_days, timed

    parsed = PipelineConfig.from_argument(config)
    with timed("fit_transforms"):
        shop = Shop.load(Path(dataset.path))
        days = initial_train_days(parsed, shop.days, dataset_origin(Path(dataset.path)))
        print(f"[fit_transforms] training days {days if days is not None else 'default'}", flush=True)
        fit_step(shop, Path(version.path), parsed.models, days, parsed.history_memory_days)


@dsl.component(base_image=WORKLOADS_IMAGE)
def content_embeddings(
    config: str, dataset: Input[Dataset], previous: Input[Model], version: Output[Model]
) -> None:
    """Text and image embeddings of every item, joined into the item cache."""
    import tempfile
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.models.pipeline import Shop, content_step
    from recsys_workloads.pipelines.steps import copy_version, timed

    parsed = PipelineConfig.from_argument(config)
    with timed("content_embeddings"), tempfile.TemporaryDirectory(prefix="embeddings-") as cache:
        out = copy_version(Path(previous.path), Path(version.path))
        shop = Shop.load(Path(dataset.path))
        content_step(shop, Path(dataset.path), out, parsed.models, cache_dir=Path(cache))


@dsl.component(base_image=WORKLOADS_IMAGE)
def train_two_tower(
    config: str, dataset: Input[Dataset], previous: Input[Model], version: Output[Model]
) -> None:
    """The retrieval model and the candidate-tower item vectors."""
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.models.pipeline import Shop, two_tower_step
    from recsys_workloads.pipelines.steps import copy_version, timed

    parsed = PipelineConfig.from_argument(config)
    with timed("train_two_tower"):
        out = copy_version(Path(previous.path), Path(version.path))
        two_tower_step(Shop.load(Path(dataset.path)), out, parsed.models)


@dsl.component(base_image=WORKLOADS_IMAGE)
def build_index(config: str, previous: Input[Model], version: Output[Model]) -> None:
    """The FAISS index over the item vectors (spec.retrieval)."""
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.models.pipeline import index_step
    from recsys_workloads.pipelines.steps import copy_version, timed

    parsed = PipelineConfig.from_argument(config)
    with timed("build_index"):
        index_step(copy_version(Path(previous.path), Path(version.path)), parsed.retrieval)


@dsl.component(base_image=WORKLOADS_IMAGE)
def train_dlrm(config: str, dataset: Input[Dataset], previous: Input[Model], version: Output[Model]) -> None:
    """The DLRM ranker."""
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.models.pipeline import Shop, dlrm_step
    from recsys_workloads.pipelines.steps import copy_version, timed

    parsed = PipelineConfig.from_argument(config)
    with timed("train_dlrm"):
        out = copy_version(Path(previous.path), Path(version.path))
        dlrm_step(Shop.load(Path(dataset.path)), out, parsed.models)


@dsl.component(base_image=WORKLOADS_IMAGE)
def evaluate(
    config: str,
    dataset: Input[Dataset],
    previous: Input[Model],
    version: Output[Model],
    metrics: Output[Metrics],
    report: Output[Markdown],
) -> None:
    """Popularity, two-tower and two-tower + DLRM on the held-out day: metrics and the report."""
    import json
    import shutil
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.evaluation.report import REPORT_JSON
    from recsys_workloads.models import artifacts
    from recsys_workloads.models.pipeline import Shop, evaluate_step
    from recsys_workloads.pipelines.steps import copy_version, days_metrics, headline_metrics, timed

    parsed = PipelineConfig.from_argument(config)
    with timed("evaluate"):
        out = copy_version(Path(previous.path), Path(version.path))
        evaluate_step(Shop.load(Path(dataset.path)), out, parsed.models)
        evaluation = out / artifacts.EVALUATION_DIR
        for name, value in headline_metrics(json.loads((evaluation / REPORT_JSON).read_text())).items():
            metrics.log_metric(name, value)
        manifest = artifacts.read_manifest(out)
        for name, value in days_metrics(manifest["train_days"], int(manifest["eval_day"])).items():
            metrics.log_metric(name, value)
        shutil.copyfile(evaluation / "report.md", report.path)


@dsl.component(base_image=WORKLOADS_IMAGE)
def materialize_features(config: str, dataset: Input[Dataset], version: Input[Model]) -> None:
    """User and item features into the online store (Feast), when the config names a feature store."""
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.pipelines.materialize import materialize_version
    from recsys_workloads.pipelines.steps import timed

    parsed = PipelineConfig.from_argument(config)
    with timed("materialize_features"):
        views = materialize_version(Path(dataset.path), Path(version.path), parsed)
        print(
            f"[materialize_features] {', '.join(views) if views else 'skipped: no featureStore'}", flush=True
        )


@dsl.component(base_image=WORKLOADS_IMAGE)
def fine_tune(
    config: str,
    dataset: Input[Dataset],
    version: Output[Model],
    metrics: Output[Metrics],
    report: Output[Markdown],
) -> bool:
    """Fine-tune the serving version on new days + replay; True (accepted) only if it does not regress.

    A single output on purpose: kfp.local resolves only `Output` in a `dsl.If` condition.
    """
    from pathlib import Path

    from recsys_workloads.contracts.gate import gate_metrics
    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.models import artifacts
    from recsys_workloads.models.pipeline import Shop, finetune_version
    from recsys_workloads.pipelines.steps import (
        dataset_origin,
        days_metrics,
        fine_tune_days,
        headline_metrics,
        serving_version,
        timed,
    )

    parsed = PipelineConfig.from_argument(config)
    with timed("fine_tune"):
        number, previous = serving_version(Path(parsed.model_repository))
        days = Shop.load(Path(dataset.path)).days
        trained = artifacts.read_manifest(previous)["train_days"]
        new_days, eval_day = fine_tune_days(parsed, days, trained, dataset_origin(Path(dataset.path)))
        print(f"[fine_tune] version {number} on days {new_days}, evaluated on day {eval_day}", flush=True)
        summary = finetune_version(
            previous, Path(dataset.path), new_days, Path(version.path), parsed.models, eval_day=eval_day
        )
        evaluation = {"retrieval": summary.evaluation.retrieval, "ranking": summary.evaluation.ranking}
        for name, value in headline_metrics(evaluation).items():
            metrics.log_metric(name, value)
        assert summary.verdict is not None and summary.serving is not None  # an incremental run has both
        serving = summary.serving.gate_inputs()
        gate = gate_metrics(serving, summary.evaluation.gate_inputs(), parsed.models.fine_tune)
        for name, value in gate.items():
            metrics.log_metric(name, value)
        metrics.log_metric("accepted", float(summary.accepted))
        for name, value in days_metrics(new_days, eval_day).items():
            metrics.log_metric(name, value)
        report_md = Path(version.path) / artifacts.EVALUATION_DIR / "report.md"
        verdict = f"{summary.verdict.reason}: {summary.verdict.message}"
        body = report_md.read_text() if report_md.exists() else ""
        Path(report.path).write_text(f"# Fine-tuned from version {number}: {verdict}\n\n{body}")
        print(f"[fine_tune] {verdict}", flush=True)
    return summary.accepted


@dsl.component(base_image=WORKLOADS_IMAGE)
def export_model(config: str, version: Input[Model]) -> int:
    """Publish the version on the model volume (staged, renamed) and copy it to the artifact store."""
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.pipelines import store
    from recsys_workloads.pipelines.steps import publish_version, timed

    parsed = PipelineConfig.from_argument(config)
    with timed("export_model"):
        repository = Path(parsed.model_repository)
        number = publish_version(Path(version.path), repository, parsed.models.export_format)
        target = store.join(parsed.artifact_root, parsed.recommender, "versions", str(number))
        store.upload_dir(repository / str(number), target)
        print(f"[export_model] published version {number}; copied to {target}", flush=True)
    return number


NO_VERSION = 0  # what the incremental pipeline's `version` says when the gate refused the run


@dsl.component(base_image=WORKLOADS_IMAGE)
def no_version() -> int:
    """The gate refused: nothing was published (the other branch of `dsl.OneOf`)."""
    return 0


@dsl.component(base_image=WORKLOADS_IMAGE)
def record_outputs(
    config: str,
    run_id: str,
    metrics: Input[Metrics],
    report: Input[Markdown],
    version: int,
    data: Input[Metrics],
    accepted: Optional[bool] = None,  # noqa: UP045 (kfp 2.17 does not read `bool | None`)
) -> None:
    """The run's outputs as one JSON document in the artifact store, keyed by the KFP run id.

    KFP's REST API gives a run's task outputs only as ML Metadata artifact ids, without
    parameter values or metrics, so `KfpClientRunner.status` reads this document instead.
    """
    import json

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.pipelines import store
    from recsys_workloads.pipelines.steps import run_outputs

    parsed = PipelineConfig.from_argument(config)
    document = run_outputs(
        metrics.uri, metrics.metadata, report.uri, version, accepted, data=(data.uri, data.metadata)
    )
    target = store.write_text(
        store.outputs_uri(parsed.artifact_root, parsed.recommender, run_id),
        json.dumps(document, indent=2, sort_keys=True),
    )
    print(f"[record_outputs] {target}", flush=True)
