"""Per-user, time-windowed seen-items filters: "hide what this user interacted with recently".

Each user has one Bloom filter per UTC day (`keys.seen_key`). `add` writes today's
filter and (re)sets its TTL to window + 1 day; `contains` ORs the filters of the last
`window_days` UTC days (today included) in one round trip. An item seen on day D is
therefore hidden on days D .. D + window_days - 1 and visible again from day
D + window_days at 00:00 UTC. Each day filter is sized for `capacity` items at
`error_rate / window_days` (exactly: `bloom.per_filter_error_rate`), so the OR over a
full window still answers at the configured false-positive rate. A Bloom filter has no
false negatives: a seen item is always hidden.

Two backends answer the same interface; `detect_backend` picks one at start-up:

- `NativeBloomSeenFilter`: Valkey's bloom module (`BF.INSERT`, `BF.MEXISTS`, EXPIRE).
- `BitmapSeenFilter`: plain bitmaps for servers without it (Debian's redis-server 7.0):
  pipelined SETBIT + EXPIRE to add; to test, one MGET of the window's day bitmaps and the
  bit tests in NumPy (a default day filter is 8.5 kB), or, for filters too large to fetch,
  one Lua script with per-candidate early exit. Callers that test the same catalog over
  and over (serving) pass precomputed bit positions (`contains_positions`), no hashing.

Readers use `contains_or_passthrough`, which never raises on an outage: it answers
"nothing seen" with `filter_skipped=True` and counts it. Writers raise
`OnlineStoreUnavailableError`.
"""

from __future__ import annotations

import abc
import logging
import threading
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import redis
from numpy.typing import NDArray

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.online import bloom
from recsys_workloads.online.client import OnlineStoreUnavailableError, store_errors

log = logging.getLogger(__name__)

Backend = Literal["native", "bitmap"]
UserId = str | int


class BackendUnavailableError(RuntimeError):
    """`backend: native` was configured but the server has no `BF.*` commands."""


class PassthroughCounter:
    """Thread-safe count of lookups answered without a filter (a Prometheus counter if installed).

    The lean serving environment has no prometheus_client, so the plain count is the
    source of truth and the Prometheus counter is a mirror.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0
        self._prom: object | None = None
        try:
            from prometheus_client import Counter

            self._prom = Counter(
                "recsys_seen_filter_passthrough",
                "Seen-filter lookups answered without a filter because Valkey was unreachable",
            )
        except ImportError:  # pragma: no cover - serving venv
            pass
        except ValueError:  # pragma: no cover - already registered (module reloaded)
            pass

    def inc(self) -> None:
        with self._lock:
            self._value += 1
        if self._prom is not None:
            self._prom.inc()  # type: ignore[attr-defined]

    @property
    def value(self) -> int:
        return self._value


PASSTHROUGH = PassthroughCounter()
"""Process-wide metric: seen-filter lookups skipped because the store was down."""


@dataclass(frozen=True)
class FilterResult:
    """`seen[i]` says candidate i was interacted with in the window; all False if skipped."""

    seen: NDArray[np.bool_]
    filter_skipped: bool = False
    reason: str = ""


class SeenFilter(abc.ABC):
    """One interface over both backends; timestamps are explicit Unix seconds (UTC)."""

    backend: Backend

    def __init__(self, client: redis.Redis, config: SeenFilterConfig | None = None) -> None:
        self.client = client
        self.config = config or SeenFilterConfig()

    def add(self, user_id: UserId, item_ids: bloom.ItemIds, at: float) -> None:
        """Record interactions at `at` in today's filter; raises `OnlineStoreUnavailableError`."""
        ids = np.asarray(item_ids).reshape(-1)
        if ids.size == 0:
            return
        key = keys.seen_key(user_id, keys.utc_day(at), native=self.backend == "native")
        with store_errors(f"seen filter add for user {user_id}"):
            self._add(key, ids)

    def contains(self, user_id: UserId, item_ids: bloom.ItemIds, at: float) -> NDArray[np.bool_]:
        """Which candidates the user interacted with in the window; raises `OnlineStoreUnavailableError`."""
        ids = np.asarray(item_ids).reshape(-1)
        if ids.size == 0:
            return np.zeros(0, dtype=np.bool_)
        day_keys = keys.seen_window_keys(
            user_id, at, self.config.window_days, native=self.backend == "native"
        )
        with store_errors(f"seen filter lookup for user {user_id}"):
            return self._contains(day_keys, ids)

    @abc.abstractmethod
    def _add(self, key: str, ids: NDArray[np.generic]) -> None: ...

    @abc.abstractmethod
    def _contains(self, day_keys: list[str], ids: NDArray[np.generic]) -> NDArray[np.bool_]: ...


# KEYS: one user's day filters (one hash tag, one slot). ARGV[1] = k, then k bit positions
# per candidate. Missing days are dropped first; per candidate and day the loop stops at
# the first zero bit (a non-member costs ~1-2 GETBITs per live day, a member k).
_CONTAINS_LUA = """
local k = tonumber(ARGV[1])
local n = (#ARGV - 1) / k
local live = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then live[#live + 1] = KEYS[i] end
end
local out = {}
for c = 0, n - 1 do
  local seen = 0
  local base = 1 + c * k
  for d = 1, #live do
    local all = 1
    for j = 1, k do
      if redis.call('GETBIT', live[d], ARGV[base + j]) == 0 then
        all = 0
        break
      end
    end
    if all == 1 then
      seen = 1
      break
    end
  end
  out[c + 1] = seen
end
return out
"""


MGET_MAX_BYTES = 1 << 20
"""Largest window of day bitmaps `contains` fetches (MGET); larger filters are tested in Lua."""


class BitmapSeenFilter(SeenFilter):
    """Portable backend: one bitmap of m bits per user-day, k positions per item by double hashing."""

    backend: Backend = "bitmap"

    def __init__(self, client: redis.Redis, config: SeenFilterConfig | None = None) -> None:
        super().__init__(client, config)
        self.bits, self.hashes = self.config.sizing
        self._contains_script = client.register_script(_CONTAINS_LUA)

    def positions(self, ids: bloom.ItemIds) -> NDArray[np.int64]:
        return bloom.bit_positions(ids, self.bits, self.hashes)

    def _add(self, key: str, ids: NDArray[np.generic]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for pos in np.unique(self.positions(ids)).tolist():
            pipe.setbit(key, pos, 1)
        pipe.expire(key, self.config.ttl)
        pipe.execute()

    def contains_positions(
        self, user_id: UserId, positions: NDArray[np.integer], at: float
    ) -> NDArray[np.bool_]:
        """`contains` for candidates given by their bit positions (n, k) (`self.positions(ids)`,
        computed once per catalog by the caller); raises `OnlineStoreUnavailableError`."""
        pos = np.asarray(positions)
        if pos.ndim != 2 or pos.shape[1] != self.hashes:
            raise ValueError(f"positions must have shape (n, {self.hashes}), got {pos.shape}")
        if len(pos) == 0:
            return np.zeros(0, dtype=np.bool_)
        day_keys = keys.seen_window_keys(user_id, at, self.config.window_days, native=False)
        with store_errors(f"seen filter lookup for user {user_id}"):
            return self._contains_positions(day_keys, pos)

    def _contains(self, day_keys: list[str], ids: NDArray[np.generic]) -> NDArray[np.bool_]:
        return self._contains_positions(day_keys, self.positions(ids))

    def _contains_positions(self, day_keys: list[str], pos: NDArray[np.integer]) -> NDArray[np.bool_]:
        if (self.bits + 7) // 8 * len(day_keys) <= MGET_MAX_BYTES:
            bitmaps = cast(list[bytes | None], self.client.mget(day_keys))
            return bloom.bitmaps_contain(bitmaps, pos)
        args: list[int] = [self.hashes, *pos.ravel().tolist()]
        bits = self._contains_script(keys=day_keys, args=args)
        return np.asarray(bits, dtype=np.int8).astype(np.bool_)


class NativeBloomSeenFilter(SeenFilter):
    """Valkey's bloom module: `BF.INSERT` creates the day filter at the configured size on first add.

    The module's own filters scale when over capacity (more memory, rate kept); the
    bitmap backend does not scale, its rate degrades past capacity instead.
    """

    backend: Backend = "native"

    @staticmethod
    def _members(ids: NDArray[np.generic]) -> list[str]:
        if ids.dtype.kind in "iu":
            return [str(i) for i in ids.astype(np.int64).tolist()]
        return [str(i) for i in ids.tolist()]

    def _add(self, key: str, ids: NDArray[np.generic]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.execute_command(  # type: ignore[no-untyped-call]
            "BF.INSERT",
            key,
            "CAPACITY",
            self.config.capacity,
            "ERROR",
            repr(self.config.day_error_rate),
            "ITEMS",
            *self._members(ids),
        )
        pipe.expire(key, self.config.ttl)
        pipe.execute()

    def _contains(self, day_keys: list[str], ids: NDArray[np.generic]) -> NDArray[np.bool_]:
        members = self._members(ids)
        pipe = self.client.pipeline(transaction=False)
        for key in day_keys:
            pipe.execute_command("BF.MEXISTS", key, *members)  # type: ignore[no-untyped-call]
        seen = np.zeros(len(members), dtype=np.bool_)
        for answer in pipe.execute():
            seen |= np.asarray(answer, dtype=np.int8).astype(np.bool_)
        return seen


PROBE_KEY = "seen:{__probe__}:bf"


def detect_backend(client: redis.Redis) -> Backend:
    """`native` when the server answers `BF.EXISTS` (Valkey bloom, RedisBloom), else `bitmap`.

    A probe instead of `MODULE LIST`: managed services and fakeredis may refuse MODULE.
    """
    with store_errors("seen filter backend detection"):
        try:
            client.execute_command("BF.EXISTS", PROBE_KEY, "probe")  # type: ignore[no-untyped-call]
        except redis.exceptions.ResponseError as exc:
            log.info("no BF.* commands (%s): using the bitmap seen filter", exc)
            return "bitmap"
    return "native"


def make_seen_filter(client: redis.Redis, config: SeenFilterConfig | None = None) -> SeenFilter:
    """The configured backend, or the detected one for `backend: auto`."""
    config = config or SeenFilterConfig()
    backend = config.backend
    if backend == "auto":
        backend = detect_backend(client)
    elif backend == "native" and detect_backend(client) != "native":
        raise BackendUnavailableError("backend 'native' configured but the server has no BF.* commands")
    if backend == "native":
        return NativeBloomSeenFilter(client, config)
    return BitmapSeenFilter(client, config)


def contains_or_passthrough(
    seen_filter: SeenFilter,
    user_id: UserId,
    item_ids: bloom.ItemIds,
    at: float,
    positions: NDArray[np.integer] | None = None,
) -> FilterResult:
    """Readers' entry point: never raises on an outage, answers "nothing seen" and flags it.

    `positions`: the bitmap backend's bit positions of `item_ids` when the caller has them
    precomputed (`BitmapSeenFilter.positions`); other backends ignore them.
    """
    try:
        if positions is not None and isinstance(seen_filter, BitmapSeenFilter):
            return FilterResult(seen_filter.contains_positions(user_id, positions, at))
        return FilterResult(seen_filter.contains(user_id, item_ids, at))
    except OnlineStoreUnavailableError as exc:
        PASSTHROUGH.inc()
        log.warning("seen filter skipped: %s", exc)
        return FilterResult(np.zeros(np.asarray(item_ids).size, dtype=np.bool_), True, str(exc))


__all__ = [
    "MGET_MAX_BYTES",
    "PASSTHROUGH",
    "BackendUnavailableError",
    "BitmapSeenFilter",
    "FilterResult",
    "NativeBloomSeenFilter",
    "OnlineStoreUnavailableError",
    "SeenFilter",
    "contains_or_passthrough",
    "detect_backend",
    "make_seen_filter",
]
