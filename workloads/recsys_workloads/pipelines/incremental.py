"""The incremental pipeline: new days + replay → fine-tune → gate against the serving version → export.

The query tower is fine-tuned with the candidate tower frozen, so item vectors and the
FAISS index are copied unchanged; the ranker is fine-tuned fully. The export step runs
only when the fine-tuned version does not regress (`dsl.If` on the gate).
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Markdown, Metrics

from recsys_workloads.pipelines.data import prepare_data
from recsys_workloads.pipelines.initial import on_accelerators
from recsys_workloads.pipelines.training import export_model, fine_tune, training_resources


class IncrementalOutputs(NamedTuple):
    metrics: Metrics
    report: Markdown
    accepted: bool


@dsl.pipeline(
    name="recsys-incremental", description="Fine-tune the serving version on new days; publish if it passes."
)
def incremental_pipeline(config: str) -> IncrementalOutputs:
    gpus = training_resources(config=config)
    dataset = prepare_data(config=config).outputs["dataset"]
    tuned = on_accelerators(fine_tune(config=config, dataset=dataset), gpus)
    with dsl.If(tuned.outputs["Output"] == True, name="gate-passed"):  # noqa: E712 (a KFP condition, not Python)
        export_model(config=config, version=tuned.outputs["version"])
    return IncrementalOutputs(
        metrics=tuned.outputs["metrics"], report=tuned.outputs["report"], accepted=tuned.outputs["Output"]
    )
