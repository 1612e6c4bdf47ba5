"""Where a recommender's data comes from: the `dataSources` part of a RecommenderSystem spec.

The operator imports this module for its CRD, and its image has no pyarrow: the data
modules are imported inside the functions that need them.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from recsys_workloads.spec import SpecModel, StoreUri

if TYPE_CHECKING:
    from recsys_workloads.data.generator import GeneratorConfig
    from recsys_workloads.data.ingest import IngestSummary

# What ingestion does with an interaction whose user has no profile or whose item is not in the
# catalog (data/unknown_ids.py); the defaults keep a real shop's logs ingestible.
UnknownUsers = Literal["profile-less", "reject"]
UnknownItems = Literal["drop", "reject"]


class GeneratorSpec(SpecModel):
    """A synthetic shop instead of real data (demos, tests, load rehearsals)."""

    users: int = Field(20_000, ge=1, description="registered users")
    items: int = Field(2_465, ge=20, description="catalog size")
    interactions: int = Field(1_000_000, ge=1, description="interactions over all days, impressions excluded")
    days: int = Field(14, ge=1, le=99, description="days of history")
    seed: int = Field(0, description="random seed; the same seed gives the same bytes")
    images: bool = Field(True, description="draw a product image per item (for CLIP embeddings)")
    start_date: dt.date | None = Field(
        None,
        description="first day of history (UTC); default 2026-01-05. Local mode sets it so that history "
        "ends yesterday and live events fall on the next day",
    )

    def to_generator_config(self) -> GeneratorConfig:
        from recsys_workloads.data.generator import GeneratorConfig  # pyarrow: not in the operator image

        dated = {"start_date": self.start_date} if self.start_date is not None else {}
        return GeneratorConfig(
            users=self.users,
            items=self.items,
            interactions=self.interactions,
            days=self.days,
            seed=self.seed,
            images=self.images,
            **dated,
        )


class DataSourcesSpec(SpecModel):
    """Where interactions, users, items, descriptions and images come from."""

    layout: Literal["generated", "seed", "rds"] = Field(
        "generated",
        description="generated: synthetic shop; seed: day_NN.parquet layout; rds: AWS Retail Demo Store layout",
    )
    uri: StoreUri | None = Field(
        None, description="absolute folder or s3:// prefix holding the data (seed and rds layouts)"
    )
    interactions_uri: StoreUri | None = Field(
        None, description="rds layout: interactions CSV, if not under uri"
    )
    images_uri: StoreUri | None = Field(None, description="item images by id, if not under uri/images")
    generator: GeneratorSpec | None = Field(
        None, description="knobs of the synthetic shop (layout generated)"
    )
    unknown_users: UnknownUsers = Field(
        "profile-less",
        description="interactions of a user without a profile: profile-less keeps the user with its "
        "profile features unknown (as a cold-start user); reject refuses the dataset, naming the row",
    )
    unknown_items: UnknownItems = Field(
        "drop",
        description="interactions of an item not in the catalog: drop removes those rows (counted in the "
        "ingest summary and the run's metrics); reject refuses the dataset, naming the row",
    )
    events_uri: StoreUri | None = Field(
        None,
        description="the event service's offline log (interactions/day=NN/*.parquet, days counted from the "
        "same origin): its rows are added to the source's, so incremental runs learn from live events",
    )

    def problems(self) -> list[str]:
        found = []
        if self.layout in ("seed", "rds") and not self.uri:
            found.append(f"spec.dataSources.uri is required with layout {self.layout}")
        if self.layout != "generated" and self.generator is not None:
            found.append("spec.dataSources.generator only applies to layout generated")
        return found


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
        generate((sources.generator or GeneratorSpec()).to_generator_config(), shop)
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
