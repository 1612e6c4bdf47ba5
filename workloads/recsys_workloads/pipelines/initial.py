"""The initial pipeline: data → transforms → content → two-tower → index → DLRM → evaluate → export.

Features are materialised to the online store (when configured) before the export.

The training steps get `config.gpu` GPUs through a runtime accelerator limit (core kfp);
node selectors and tolerations need kfp-kubernetes (docs/pipelines.md).
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Markdown, Metrics
from kfp.dsl.pipeline_channel import PipelineChannel

from recsys_workloads.pipelines.config import GPU_RESOURCE
from recsys_workloads.pipelines.data import prepare_data
from recsys_workloads.pipelines.training import (
    build_index,
    content_embeddings,
    evaluate,
    export_model,
    fit_transforms,
    materialize_features,
    train_dlrm,
    train_two_tower,
    training_resources,
)


def on_accelerators(task: dsl.PipelineTask, resources: dsl.PipelineTask) -> dsl.PipelineTask:
    """A training step asks for the GPUs `resources` computed at run time ("0" or "1").

    The explicit `after` matters: kfp does not record a dependency for a value used only in
    a resource limit, and kfp.local would run the step before the value exists.
    """
    gpus: PipelineChannel = resources.output
    return task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(gpus).after(resources)


class InitialOutputs(NamedTuple):
    metrics: Metrics
    report: Markdown
    version: int


@dsl.pipeline(name="recsys-initial", description="Train, evaluate and publish a first model version.")
def initial_pipeline(config: str) -> InitialOutputs:
    gpus = training_resources(config=config)
    dataset = prepare_data(config=config).outputs["dataset"]
    fitted = fit_transforms(config=config, dataset=dataset).outputs["version"]
    content = content_embeddings(config=config, dataset=dataset, previous=fitted).outputs["version"]
    tower = on_accelerators(train_two_tower(config=config, dataset=dataset, previous=content), gpus)
    indexed = build_index(config=config, previous=tower.outputs["version"]).outputs["version"]
    ranker = on_accelerators(train_dlrm(config=config, dataset=dataset, previous=indexed), gpus)
    evaluated = evaluate(config=config, dataset=dataset, previous=ranker.outputs["version"])
    materialized = materialize_features(config=config, dataset=dataset, version=evaluated.outputs["version"])
    exported = export_model(config=config, version=evaluated.outputs["version"]).after(materialized)
    return InitialOutputs(
        metrics=evaluated.outputs["metrics"], report=evaluated.outputs["report"], version=exported.output
    )
