"""Turn a spec's `dataSources` (recsys_workloads.contracts.data_sources) into the canonical dataset.

The pipelines' data step imports this module at its start: the data modules (pyarrow) are
imported inside the functions that need them.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
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

    Each location may be a folder or an s3:// prefix; S3 ones are staged to `scratch` first,
    checked (data/staging.py), then ingested like folders. The summary says what the unknown-id
    policy kept and dropped (the run's metrics log it).
    """
    from recsys_workloads.data.generator import generate
    from recsys_workloads.data.ingest import ingest

    problems = sources.problems()
    if problems:
        raise ValueError("; ".join(problems))
    if sources.layout == "generated":
        shop = scratch / "shop"
        generate(generator_config(sources.generator or GeneratorSpec()), shop)
        summary = ingest(shop, destination, unknown_users="reject", unknown_items="reject")  # ours: exact
    else:
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="staged-", dir=scratch) as staged:  # S3 copies go away
            local = local_sources(sources, Path(staged))
            summary = ingest(
                local.source,
                destination,
                layout=sources.layout,
                interactions=local.interactions,
                images=local.images,
                unknown_users=sources.unknown_users,
                unknown_items=sources.unknown_items,
                event_types=sources.event_types,
                source_name=sources.uri,
            )
    if sources.events_uri is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="events-", dir=scratch) as staged:
            append_event_log(event_log(sources.events_uri, Path(staged)), destination)
    return summary


@dataclass(frozen=True)
class LocalSources:
    """A spec's seed/rds locations as local paths (S3 ones staged under the scratch folder)."""

    source: Path
    interactions: Path | None
    images: Path | None


def local_sources(sources: DataSourcesSpec, scratch: Path) -> LocalSources:
    """`uri`, `interactionsUri` and `imagesUri` as folders and files ingest reads."""
    from recsys_workloads.object_store import is_s3

    if sources.uri is None:
        raise ValueError(f"spec.dataSources.uri is required with layout {sources.layout}")
    interactions = images = None
    if sources.interactions_uri is not None:
        interactions = Path(sources.interactions_uri)
        if is_s3(sources.interactions_uri):
            from recsys_workloads.data.staging import stage_object

            name = sources.interactions_uri.rstrip("/").rsplit("/", 1)[-1]
            interactions = stage_object(sources.interactions_uri, scratch / "interactions" / name)
    if sources.images_uri is not None:
        images = Path(sources.images_uri)
        if is_s3(sources.images_uri):
            from recsys_workloads.data.staging import stage_prefix

            images = stage_prefix(sources.images_uri, scratch / "images").local
    source = Path(sources.uri)
    if is_s3(sources.uri):
        from recsys_workloads.data.staging import layout_needs, stage_prefix

        needs = layout_needs(
            sources.layout,
            interactions_elsewhere=sources.interactions_uri is not None,
            images_elsewhere=sources.images_uri is not None,
        )
        source = stage_prefix(sources.uri, scratch / "source", needs).local
    return LocalSources(source, interactions, images)


def event_log(uri: str, scratch: Path) -> Path:
    """The event log as a local folder: itself, or its S3 prefix staged (append-only: parts that
    arrive while it is read wait for the next run; no log yet is no events)."""
    from recsys_workloads.object_store import is_s3

    if not is_s3(uri):
        return Path(uri)
    from recsys_workloads.data.staging import EVENTS, stage_prefix

    return stage_prefix(uri, scratch / "events", EVENTS, growing=True, missing_ok=True).local


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
