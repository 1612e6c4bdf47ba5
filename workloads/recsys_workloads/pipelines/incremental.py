"""The incremental pipeline: new days + replay → fine-tune → gate against the serving version → export.

The query tower is fine-tuned with the candidate tower frozen, so item vectors and the
FAISS index are copied unchanged; the ranker is fine-tuned fully. The export step runs
only when the fine-tuned version does not regress (`dsl.If` on the gate); `version` is the
published number, or 0 when refused (`dsl.OneOf`), so the operator knows what to promote.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Markdown, Metrics

from recsys_workloads.pipelines.data import prepare_data, publish_catalog
from recsys_workloads.pipelines.placement import on_model_volume, on_training_nodes, uncached
from recsys_workloads.pipelines.training import (
    export_model,
    fine_tune,
    no_version,
    record_outputs,
    training_resources,
)


class IncrementalOutputs(NamedTuple):
    metrics: Metrics
    report: Markdown
    accepted: bool
    version: int  # the published version, or 0 (training.NO_VERSION) when the gate refused it
    data: Metrics  # prepare_data's counts: read, kept without a profile, dropped


@dsl.pipeline(
    name="recsys-incremental", description="Fine-tune the serving version on new days; publish if it passes."
)
def incremental_pipeline(config: str) -> IncrementalOutputs:
    resources = training_resources(config=config)
    data = prepare_data(config=config)
    catalog = on_model_volume(publish_catalog(config=config, dataset=data.outputs["dataset"]), resources)
    tuned = on_training_nodes(fine_tune(config=config, dataset=data.outputs["dataset"]), resources)
    on_model_volume(tuned, resources)  # reads the serving version it fine-tunes
    with dsl.If(tuned.outputs["Output"] == True, name="gate-passed"):  # noqa: E712 (a KFP condition, not Python)
        exported = on_model_volume(export_model(config=config, version=tuned.outputs["version"]), resources)
    with dsl.Else(name="gate-refused"):
        refused = no_version()
    version = dsl.OneOf(exported.output, refused.output)
    recorded = record_outputs(
        config=config,
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        metrics=tuned.outputs["metrics"],
        report=tuned.outputs["report"],
        data=data.outputs["summary"],
        version=version,
        accepted=tuned.outputs["Output"],
    )
    uncached(resources, data, catalog, tuned, exported, refused, recorded)
    return IncrementalOutputs(
        metrics=tuned.outputs["metrics"],
        report=tuned.outputs["report"],
        accepted=tuned.outputs["Output"],
        version=version,
        data=data.outputs["summary"],
    )
