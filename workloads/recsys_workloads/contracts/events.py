"""Configuration of the event service (part of the custom resource's spec)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field

from recsys_workloads.contracts.access import GuardConfig
from recsys_workloads.contracts.keys import RECENT_KEPT
from recsys_workloads.contracts.online import PopularityConfig, SeenFilterConfig
from recsys_workloads.contracts.spec import SpecModel


class EventLimits(SpecModel):
    """What a request may contain; everything outside is a 4xx, never a silent drop."""

    max_batch: int = Field(1_000, ge=1, le=100_000, description="events per request (413 above)")
    max_future_skew_s: int = Field(300, ge=0, description="reject timestamps this far ahead of the server")
    max_age_s: int = Field(86_400, ge=60, description="reject timestamps older than this (late sync)")
    unknown_items: Literal["reject", "accept"] = Field(
        "reject", description="items missing from the catalog: 422, or accept without a category"
    )


class WalConfig(SpecModel):
    """Write-ahead log: every acknowledged event is fsynced here before the 2xx."""

    flush_rows: int = Field(5_000, ge=1, description="write parquet once this many events are pending")
    flush_interval_s: float = Field(60.0, gt=0, description="...or once the oldest pending event is this old")
    fsync: bool = Field(True, description="fsync each append (turn off only for throwaway benchmarks)")


class EventServiceConfig(SpecModel):
    """Where the service reads the catalog, keeps state and logs events; how it validates."""

    redis_url: str = Field(description="Valkey/Redis URL (rediss:// for TLS; password in the URL)")
    catalog: Path = Field(description="canonical dataset folder or its items.parquet: item -> category")
    log_dir: Path = Field(description="offline event log: interactions/day=NN/*.parquet plus wal/")
    day_origin_timestamp: int | None = Field(
        None, description="day 00 starts here (UTC s); default: the catalog dataset's manifest, else 0"
    )
    writer_id: str = Field(
        default_factory=socket.gethostname, description="unique per replica: names WAL segments and parts"
    )
    limits: EventLimits = Field(default_factory=EventLimits)
    wal: WalConfig = Field(default_factory=WalConfig)
    seen_filter: SeenFilterConfig = Field(default_factory=SeenFilterConfig)
    popularity: PopularityConfig = Field(default_factory=PopularityConfig)
    recent_items: int = Field(
        RECENT_KEPT,
        ge=1,
        le=1_000,
        description="recent items kept per visitor (training assumes the default)",
    )
    retry_after_s: int = Field(5, ge=1, description="Retry-After of a 503 while Valkey is unreachable")
    claim_ttl_s: int = Field(30, ge=1, description="how long an in-flight event id blocks a concurrent retry")
    store_timeout_s: float = Field(0.5, gt=0, description="Valkey socket timeouts (fail fast, answer 503)")
    guard: GuardConfig = Field(
        default_factory=GuardConfig, description="token, rate limit and body size in front of POST /events"
    )

    @property
    def recent_ttl_s(self) -> int:
        """Recent items and the top category live as long as the seen-filter window."""
        return self.seen_filter.window_days * 86_400

    @property
    def idempotency_ttl_s(self) -> int:
        """A retry older than this is rejected as too old anyway, so the marker may go."""
        return self.limits.max_age_s + self.limits.max_future_skew_s + 3_600
