"""The initial pipeline: data → transforms → content → two-tower → index → DLRM → evaluate → export.

Features are materialised to the online store (when configured) before the export, and
`record_outputs` writes the run's outputs where `KfpClientRunner` reads them. Placement
(GPUs, nodes, the model volume) is in `placement.py`.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Markdown, Metrics

from recsys_workloads.pipelines.data import prepare_data, publish_catalog, warm_online_state
from recsys_workloads.pipelines.placement import on_model_volume, on_training_nodes, uncached
from recsys_workloads.pipelines.training import (
    build_index,
    content_embeddings,
    evaluate,
    export_model,
    fit_transforms,
    materialize_features,
    record_outputs,
    train_dlrm,
    train_two_tower,
    training_resources,
)


class InitialOutputs(NamedTuple):
    metrics: Metrics
    report: Markdown
    version: int
    data: Metrics  # prepare_data's counts: read, kept without a profile, dropped


@dsl.pipeline(name="recsys-initial", description="Train, evaluate and publish a first model version.")
def initial_pipeline(config: str) -> InitialOutputs:
    resources = training_resources(config=config)
    data = prepare_data(config=config)
    dataset = data.outputs["dataset"]
    catalog = on_model_volume(publish_catalog(config=config, dataset=dataset), resources)
    warmed = warm_online_state(config=config, dataset=dataset)
    fitted = fit_transforms(config=config, dataset=dataset)
    content = content_embeddings(config=config, dataset=dataset, previous=fitted.outputs["version"])
    tower = on_training_nodes(
        train_two_tower(config=config, dataset=dataset, previous=content.outputs["version"]), resources
    )
    indexed = build_index(config=config, previous=tower.outputs["version"])
    ranker = on_training_nodes(
        train_dlrm(config=config, dataset=dataset, previous=indexed.outputs["version"]), resources
    )
    evaluated = evaluate(config=config, dataset=dataset, previous=ranker.outputs["version"])
    materialized = materialize_features(config=config, dataset=dataset, version=evaluated.outputs["version"])
    exported = on_model_volume(
        export_model(config=config, version=evaluated.outputs["version"]).after(materialized), resources
    )
    recorded = record_outputs(
        config=config,
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        metrics=evaluated.outputs["metrics"],
        report=evaluated.outputs["report"],
        data=data.outputs["summary"],
        version=exported.output,
    )
    uncached(
        resources,
        data,
        catalog,
        warmed,
        fitted,
        content,
        tower,
        indexed,
        ranker,
        evaluated,
        materialized,
        exported,
        recorded,
    )
    return InitialOutputs(
        metrics=evaluated.outputs["metrics"],
        report=evaluated.outputs["report"],
        version=exported.output,
        data=data.outputs["summary"],
    )
