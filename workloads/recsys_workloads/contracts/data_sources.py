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
# The canonical event types (recsys_workloads.data.schema.EventType, spelled again here because the
# contracts import no pyarrow; a unit test keeps the two equal).
CanonicalEventType = Literal["View", "AddToCart", "ViewCart", "StartCheckout", "Purchase", "Impression"]
# What a shop's Amazon Personalize EVENT_TYPE strings usually are (matched without regard to case).
DEFAULT_EVENT_TYPES: dict[str, CanonicalEventType] = {
    "view": "View",
    "click": "View",
    "detail-page-view": "View",
    "add-to-cart": "AddToCart",
    "addtocart": "AddToCart",
    "add_to_cart": "AddToCart",
    "view-cart": "ViewCart",
    "viewcart": "ViewCart",
    "start-checkout": "StartCheckout",
    "startcheckout": "StartCheckout",
    "checkout": "StartCheckout",
    "purchase": "Purchase",
    "buy": "Purchase",
    "order": "Purchase",
    "impression": "Impression",
}


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

    layout: Literal["generated", "seed", "rds", "personalize"] = Field(
        "generated",
        description="generated: synthetic shop; seed: day_NN.parquet layout; rds: AWS Retail Demo Store layout; "
        "personalize: Amazon Personalize dataset CSVs (interactions*.csv, items.csv, users.csv)",
    )
    uri: StoreUri | None = Field(
        None,
        description="absolute folder or s3:// prefix holding the data (seed, rds and personalize layouts); an s3:// "
        "prefix is checked (missing objects, access, partially written) and staged before ingest",
    )
    interactions_uri: StoreUri | None = Field(
        None,
        description="rds and personalize layouts: interactions CSV (a file or an s3:// object), if not under uri",
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
    event_types: dict[str, CanonicalEventType] = Field(
        default=DEFAULT_EVENT_TYPES,  # a value, not a factory: the CRD carries it, the API server fills it
        description="personalize layout: the shop's EVENT_TYPE values (compared without regard to case) and "
        "the canonical event type each one is (View, AddToCart, ViewCart, StartCheckout, Purchase, "
        "Impression); a value not listed is refused, naming the row. Setting it replaces the default, which "
        "knows view, click, add-to-cart, checkout, purchase and their usual spellings",
    )
    events_uri: StoreUri | None = Field(
        None,
        description="the event service's offline log, a folder or s3:// prefix (interactions/day=NN/*.parquet, "
        "days counted from the same origin): its rows are added to the source's, so incremental runs learn "
        "from live events",
    )

    def problems(self) -> list[str]:
        found = []
        if self.layout in ("seed", "rds", "personalize") and not self.uri:
            found.append(f"spec.dataSources.uri is required with layout {self.layout}")
        if self.layout != "generated" and self.generator is not None:
            found.append("spec.dataSources.generator only applies to layout generated")
        if self.layout != "personalize" and self.event_types != DEFAULT_EVENT_TYPES:
            found.append("spec.dataSources.eventTypes only applies to layout personalize")
        found.extend(event_type_problems(self.event_types))
        return found


def event_type_problems(event_types: dict[str, CanonicalEventType]) -> list[str]:
    """Keys that are blank, or equal without regard to case but meaning different event types."""
    found = []
    if any(not key.strip() for key in event_types):
        found.append("spec.dataSources.eventTypes: an event type name must not be empty")
    meaning: dict[str, tuple[str, str]] = {}
    for key, target in event_types.items():
        folded = key.strip().casefold()
        if folded in meaning and meaning[folded][1] != target:
            first, other = meaning[folded]
            found.append(
                f"spec.dataSources.eventTypes: {first!r} ({other}) and {key!r} ({target}) differ only in case; "
                "event types are compared without regard to case"
            )
        meaning.setdefault(folded, (key, target))
    return found
