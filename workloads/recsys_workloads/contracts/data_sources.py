"""Where a recommender's data comes from: the `dataSources` part of a RecommenderSystem spec."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from recsys_workloads.contracts.spec import SpecModel, StoreUri

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


class DataSourcesSpec(SpecModel):
    """Where interactions, users, items, descriptions and images come from."""

    layout: Literal["generated", "seed", "rds"] = Field(
        "generated",
        description="generated: synthetic shop; seed: day_NN.parquet layout; rds: AWS Retail Demo Store layout",
    )
    uri: StoreUri | None = Field(
        None,
        description="absolute folder or s3:// prefix holding the data (seed and rds layouts); an s3:// "
        "prefix is checked (missing objects, access, partially written) and staged before ingest",
    )
    interactions_uri: StoreUri | None = Field(
        None, description="rds layout: interactions CSV (a file or an s3:// object), if not under uri"
    )
    images_uri: StoreUri | None = Field(
        None,
        description="folder or s3:// prefix of item images (<item_id>.png; rds: products.yaml's image "
        "names, also under <category>/), if not under uri/images",
    )
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
        description="the event service's offline log, a folder or s3:// prefix (interactions/day=NN/*.parquet, "
        "days counted from the same origin): its rows are added to the source's, so incremental runs learn "
        "from live events",
    )

    def problems(self) -> list[str]:
        found = []
        if self.layout in ("seed", "rds") and not self.uri:
            found.append(f"spec.dataSources.uri is required with layout {self.layout}")
        if self.layout != "generated" and self.generator is not None:
            found.append("spec.dataSources.generator only applies to layout generated")
        return found
