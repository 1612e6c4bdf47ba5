"""Global and per-category popularity with exponential time decay, for cold start and anonymous visitors.

Forward decay (Cormode et al., 2009): an event at time t adds w * exp(lambda (t - L))
to its item's score, with lambda = ln 2 / half-life and L a fixed landmark. Reading at
time T multiplies by exp(-lambda (T - L)), which is the same for every item, so the
ranking in a sorted set never needs rewriting: ZINCRBY to write, ZREVRANGE to read.

The raw weights grow by 2 per half-life and would overflow a double after ~1000
half-lives, so the landmark moves every `era_half_lives` half-lives. Each event is
written to the sorted set of its own era *and* the next one; when an era begins, its
set already holds the whole previous era, so reads touch one key and no rebase job or
lock exists. Events older than one full era (a factor 2^-era_half_lives, 1.5e-5 at the
default 16) are forgotten when their keys expire.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

import redis

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.online import PopularityConfig
from recsys_workloads.online.client import OnlineStoreUnavailableError, store_errors


def era_of(at: float, config: PopularityConfig) -> int:
    return math.floor(at / config.era_s)


def landmark(era: int, config: PopularityConfig) -> float:
    return era * config.era_s


def forward_weight(at: float, era: int, config: PopularityConfig, weight: float = 1.0) -> float:
    """What an event of `weight` at `at` adds to the raw score in `era`'s set."""
    return weight * math.exp(config.decay_rate * (at - landmark(era, config)))


def decayed(raw: float, at: float, era: int, config: PopularityConfig) -> float:
    """Raw score of `era`'s set read at `at`, in units of "fresh events at `at`"."""
    return raw * math.exp(-config.decay_rate * (at - landmark(era, config)))


@dataclass(frozen=True)
class PopularityRead:
    """Top items with decayed scores; `fallback` when the store was down and `default` was used."""

    items: list[tuple[str, float]] = field(default_factory=list)
    fallback: bool = False


class Popularity:
    """Writer and reader of the decayed popularity sets (item ids are stored as strings)."""

    def __init__(self, client: redis.Redis, config: PopularityConfig | None = None) -> None:
        self.client = client
        self.config = config or PopularityConfig()

    def record(self, item_id: str | int, at: float, category: str | None = None, weight: float = 1.0) -> None:
        """Count one interaction globally and in its category; raises `OnlineStoreUnavailableError`."""
        self.record_many([(item_id, category, weight)], at)

    def record_many(self, events: list[tuple[str | int, str | None, float]], at: float) -> None:
        """(item, category, weight) events at one timestamp, one pipelined round trip."""
        if not events:
            return
        era = era_of(at, self.config)
        pipe = self.client.pipeline(transaction=False)
        touched: set[str] = set()
        for target in (era, era + 1):
            global_key = keys.pop_global_key(target)
            for item_id, category, weight in events:
                inc = forward_weight(at, target, self.config, weight)
                pipe.zincrby(global_key, inc, str(item_id))
                touched.add(global_key)
                if category:
                    cat_key = keys.pop_category_key(category, target)
                    pipe.zincrby(cat_key, inc, str(item_id))
                    touched.add(cat_key)
        for key in sorted(touched):
            pipe.expire(key, self.config.ttl)
        with store_errors("popularity update"):
            pipe.execute()

    def top(self, n: int, at: float, category: str | None = None) -> list[tuple[str, float]]:
        """The `n` most popular items at `at` (globally or in `category`), decayed scores, best first."""
        if n < 1:
            return []
        era = era_of(at, self.config)
        key = keys.pop_category_key(category, era) if category else keys.pop_global_key(era)
        with store_errors("popularity read"):
            rows = cast(list[tuple[bytes, float]], self.client.zrevrange(key, 0, n - 1, withscores=True))
        return [(_text(member), decayed(float(score), at, era, self.config)) for member, score in rows]

    def top_or_default(
        self,
        n: int,
        at: float,
        category: str | None = None,
        default: list[tuple[str, float]] | None = None,
    ) -> PopularityRead:
        """Readers' entry point: `default` (e.g. a cached list) with `fallback=True` on an outage."""
        try:
            return PopularityRead(self.top(n, at, category))
        except OnlineStoreUnavailableError:
            return PopularityRead(list(default or [])[:n], fallback=True)


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member
