"""Turn a spec's `dataSources` (recsys_workloads.contracts.data_sources) into the canonical dataset.

The pipelines' data step imports this module at its start: the data modules (pyarrow) are
imported inside the functions that need them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from recsys_workloads.contracts.data_sources import DataSourcesSpec, GeneratorSpec

if TYPE_CHECKING:
    from recsys_workloads.data.generator import GeneratorConfig
    from recsys_workloads.data.ingest import IngestSummary


def generator_config(spec: GeneratorSpec) -> GeneratorConfig:
    from recsys_workloads.data.generator import GeneratorConfig

    dated = {"start_date": spec.start_date} if spec.start_date is not None else {}
    return GeneratorConfig(
        users=spec.users,
        items=spec.items,
        interactions=spec.interactions,
        days=spec.days,
        seed=spec.seed,
        images=spec.images,
        **dated,
    )


def prepare_canonical(sources: DataSourcesSpec, destination: Path, scratch: Path) -> IngestSummary:
    """Generate or ingest into the canonical dataset at `destination` (validated, all or nothing).

    The summary says what the unknown-id policy kept and dropped (the run's metrics log it).
    """
    from recsys_workloads.data.generator import generate
    from recsys_workloads.data.ingest import ingest

    problems = sources.problems()
    if problems:
        raise ValueError("; ".join(problems))
    if sources.events_uri is not None and "://" in sources.events_uri:
        raise ValueError(f"only a local event log folder is read here, got {sources.events_uri!r}")
    if sources.layout == "generated":
        shop = scratch / "shop"
        generate(generator_config(sources.generator or GeneratorSpec()), shop)
        summary = ingest(shop, destination, unknown_users="reject", unknown_items="reject")  # ours: exact
    elif sources.uri is None or "://" in sources.uri:
        raise ValueError(f"only local folders are ingested here, got {sources.uri!r} (S3: issue 7)")
    else:
        interactions = Path(sources.interactions_uri) if sources.interactions_uri else None
        summary = ingest(
            Path(sources.uri),
            destination,
            layout=sources.layout,
            interactions=interactions,
            unknown_users=sources.unknown_users,
            unknown_items=sources.unknown_items,
        )
    if sources.events_uri is not None:
        append_event_log(Path(sources.events_uri), destination)
    return summary


def append_event_log(events: Path, destination: Path) -> int:
    """Copy the event log's day partitions beside the ingested ones; returns the files added.

    The event service writes canonical interaction rows partitioned by the dataset's own day
    origin, so its parts join the dataset as they are (prefixed, so they never replace a part).
    `events` is one writer's log, or (in a cluster) the whole log volume with one folder per
    replica; part names carry the writer id, so two replicas' parts never collide.
    A missing log is no events yet, not an error.
    """
    from recsys_workloads.data import schema as s

    added = 0
    parts = [
        *events.glob(f"{s.INTERACTIONS_DIR}/day=*/*.parquet"),
        *events.glob(f"*/{s.INTERACTIONS_DIR}/day=*/*.parquet"),
    ]
    for part in sorted(parts):
        target = destination / s.INTERACTIONS_DIR / part.parent.name / f"events-{part.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(part, target)
        added += 1
    return added
