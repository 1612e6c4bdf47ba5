"""Settings of the online state that its writers (event service, warm-up) and readers (serving) share."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import ConfigDict, Field

from recsys_workloads.contracts import bloom_sizing as bloom
from recsys_workloads.contracts import keys
from recsys_workloads.contracts.spec import SpecModel


class SeenFilterConfig(SpecModel):
    """Seen-items filter: hide what a user interacted with in the last `windowDays` UTC days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(7, ge=1, le=365, description="hide interacted items for this many UTC days")
    capacity: int = Field(5000, ge=1, description="items per user per day each day filter is sized for")
    error_rate: float = Field(0.01, gt=0.0, lt=0.5, description="false-positive rate over the whole window")
    backend: Literal["auto", "native", "bitmap"] = Field(
        "auto", description="native: Valkey BF.* commands; bitmap: portable bitmaps + Lua; auto: detect"
    )
    ttl_seconds: int | None = Field(
        None, ge=1, description="override of the day filters' TTL (default window + 1 day); for tests"
    )

    @property
    def ttl(self) -> int:
        return self.ttl_seconds or (self.window_days + 1) * keys.SECONDS_PER_DAY

    @property
    def day_error_rate(self) -> float:
        return bloom.per_filter_error_rate(self.error_rate, self.window_days)

    @property
    def sizing(self) -> bloom.BloomSizing:
        """Bits and hashes of one day filter (the bitmap backend's layout)."""
        return bloom.bloom_sizing(self.capacity, self.day_error_rate)


class PopularityConfig(SpecModel):
    """Decay of the popularity sorted sets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    half_life_hours: float = Field(24.0, gt=0.0, description="an event's weight halves every this many hours")
    era_half_lives: int = Field(
        16, ge=2, le=64, description="landmark moves every this many half-lives (memory: 1-2 eras)"
    )

    @property
    def half_life_s(self) -> float:
        return self.half_life_hours * 3600.0

    @property
    def decay_rate(self) -> float:
        """lambda in 1/s."""
        return math.log(2.0) / self.half_life_s

    @property
    def era_s(self) -> float:
        return self.era_half_lives * self.half_life_s

    @property
    def ttl(self) -> int:
        """A key is written during two eras and read during the second: keep it two eras."""
        return math.ceil(2 * self.era_s)
