"""The data steps every pipeline starts with.

No `from __future__ import annotations` in component modules: kfp reads the artifact
types from the annotations at decoration time.
"""

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Output

from recsys_workloads.pipelines.images import WORKLOADS_IMAGE
from recsys_workloads.pipelines.placement import uncached


@dsl.component(base_image=WORKLOADS_IMAGE)
def prepare_data(config: str, dataset: Output[Dataset], summary: Output[Metrics]) -> None:
    """Generate or ingest the canonical dataset named by the config's dataSources."""
    import tempfile
    from pathlib import Path

    from recsys_workloads.data.sources import prepare_canonical
    from recsys_workloads.data.stats import compute_stats
    from recsys_workloads.pipelines.config import PipelineConfig
    from recsys_workloads.pipelines.steps import timed

    parsed = PipelineConfig.from_argument(config)
    with timed("prepare_data"), tempfile.TemporaryDirectory(prefix="prepare-data-") as scratch:
        prepare_canonical(parsed.data_sources, Path(dataset.path), Path(scratch))
    stats = compute_stats(Path(dataset.path))
    summary.log_metric("users", stats.users)
    summary.log_metric("items", stats.items)
    summary.log_metric("interactions", stats.interactions)
    summary.log_metric("days", len(stats.per_day))


@dsl.pipeline(name="recsys-data", description="Generate or ingest the canonical dataset.")
def data_pipeline(config: str) -> Dataset:
    task = prepare_data(config=config)
    uncached(task)  # the source changes under the same config (new days, the event log)
    return task.outputs["dataset"]
