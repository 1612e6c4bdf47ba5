"""The data steps every pipeline starts with.

No `from __future__ import annotations` in component modules: kfp reads the artifact
types from the annotations at decoration time.
"""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from recsys_workloads.contracts.images import WORKLOADS_IMAGE
from recsys_workloads.pipelines.placement import uncached


@dsl.component(base_image=WORKLOADS_IMAGE)
def prepare_data(config: str, dataset: Output[Dataset], summary: Output[Metrics]) -> None:
    """Generate or ingest the canonical dataset named by the config's dataSources."""
    import tempfile
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.data.sources import prepare_canonical
    from recsys_workloads.data.stats import compute_stats
    from recsys_workloads.pipelines.steps import timed

    parsed = PipelineConfig.from_argument(config)
    with timed("prepare_data"), tempfile.TemporaryDirectory(prefix="prepare-data-") as scratch:
        prepared = prepare_canonical(parsed.data_sources, Path(dataset.path), Path(scratch))
    for name, count in prepared.unknown.items():  # what the unknown-id policy kept and dropped
        summary.log_metric(name, count)
    stats = compute_stats(Path(dataset.path))
    summary.log_metric("users", stats.users)
    summary.log_metric("items", stats.items)
    summary.log_metric("interactions", stats.interactions)
    summary.log_metric("days", len(stats.per_day))


@dsl.component(base_image=WORKLOADS_IMAGE)
def publish_catalog(config: str, dataset: Input[Dataset]) -> None:
    """The items and day origin the event service reads, on the model volume (steps.publish_catalog)."""
    from pathlib import Path

    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.pipelines.steps import publish_catalog as publish
    from recsys_workloads.pipelines.steps import timed

    parsed = PipelineConfig.from_argument(config)
    with timed("publish_catalog"):
        link = publish(Path(dataset.path), Path(parsed.model_repository))
        print(f"[publish_catalog] {link}", flush=True)


@dsl.component(base_image=WORKLOADS_IMAGE)
def warm_online_state(config: str, dataset: Input[Dataset]) -> None:
    """The history as the event service would have written it, into Valkey (config.online; else skipped)."""
    import os
    import time
    from pathlib import Path

    import redis

    from recsys_workloads.contracts import keys
    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.online.client import connect
    from recsys_workloads.online.warmup import warm_online_state as warm
    from recsys_workloads.pipelines.steps import timed

    parsed = PipelineConfig.from_argument(config)
    if parsed.online is None:
        print("[warm_online_state] skipped: no online store in the config", flush=True)
        return
    os.environ[keys.NAMESPACE_ENV] = parsed.online.key_namespace
    with timed("warm_online_state"):
        # A Valkey the operator provisions in the same reconcile may still be starting: wait a while.
        for attempt in range(10):
            client = connect(parsed.online.redis_url, timeout_s=30.0)
            try:
                summary = warm(client, Path(dataset.path), parsed.online.filtering)
                break
            except redis.ConnectionError as exc:
                if attempt == 9:
                    raise
                print(f"[warm_online_state] {parsed.online.redis_url} not reachable yet: {exc}", flush=True)
                time.sleep(15)
            finally:
                client.close()
        print(
            f"[warm_online_state] {summary.popularity_rows} popularity rows, {summary.visitors} visitors, "
            f"{summary.seen_items} seen items",
            flush=True,
        )


@dsl.pipeline(name="recsys-data", description="Generate or ingest the canonical dataset.")
def data_pipeline(config: str) -> Dataset:
    task = prepare_data(config=config)
    uncached(task)  # the source changes under the same config (new days, the event log)
    return task.outputs["dataset"]
