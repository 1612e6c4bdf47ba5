"""What an accepted event changes in Valkey, applied once per event id.

Per visitor, one Lua script (every key shares the visitor's hash tag, so one slot)
checks and claims the event ids and adds the interactions to `recent:{visitor}`,
atomically. Claims are `p:<token>` markers with a short TTL; the caller then applies
the rest (seen filter, top category, popularity), appends to the WAL and only then
turns the markers into `done`. So:

- a retry of a finished event finds `done`: answered `duplicate`, nothing re-applied;
- a retry while the first attempt is in flight finds another token: `busy` (409);
- a first attempt that died before the WAL leaves a claim that expires, and the retry
  applies it afresh (popularity may then count it twice: at most once per crash).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import redis

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.events.models import Event
from recsys_workloads.online.client import store_errors
from recsys_workloads.online.popularity import era_of, forward_weight
from recsys_workloads.online.seen_filter import BitmapSeenFilter, SeenFilter, make_seen_filter
from recsys_workloads.online.top_category import top_category

Status = Literal["new", "duplicate", "busy"]

# KEYS[1] = recent:{v}, KEYS[2..] = evt:{v}:<id> per event.
# ARGV = token, claim_ttl, recent_max, recent_ttl, then (item, ts, interaction 0/1) per event.
# Returns {statuses, recent items newest first}; with any busy id nothing is written.
_CLAIM_LUA = """
local token, claim_ttl = ARGV[1], tonumber(ARGV[2])
local recent_max, recent_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS - 1
local current = {}
for i = 1, n do
  local v = redis.call('GET', KEYS[i + 1])
  if v and v ~= 'done' then return {{'busy'}, {}} end
  current[i] = v
end
local statuses, claimed, touched = {}, {}, false
for i = 1, n do
  local key = KEYS[i + 1]
  if current[i] == 'done' or claimed[key] then
    statuses[i] = 'duplicate'
  else
    claimed[key] = true
    statuses[i] = 'new'
    redis.call('SET', key, 'p:' .. token, 'EX', claim_ttl)
    local base = 4 + (i - 1) * 3
    if ARGV[base + 3] == '1' then
      redis.call('ZADD', KEYS[1], 'GT', ARGV[base + 2], ARGV[base + 1])
      touched = true
    end
  end
end
if touched then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(recent_max + 1))
  redis.call('EXPIRE', KEYS[1], recent_ttl)
end
return {statuses, redis.call('ZREVRANGE', KEYS[1], 0, -1)}
"""

# KEYS = evt:{v}:<id> markers; ARGV[1] = token. Deletes only this request's own claims.
_RELEASE_LUA = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == 'p:' .. ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
"""


class EventInFlightError(RuntimeError):
    """Another request is applying one of these event ids right now (answer 409, retry later)."""


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming one request's events: a status per event, in request order."""

    token: str
    statuses: list[Status]
    recent: dict[str, list[str]]  # visitor -> recent items newest first, after this request

    def new_indices(self) -> list[int]:
        return [i for i, status in enumerate(self.statuses) if status == "new"]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class OnlineEffects:
    """Applies events to the seen filter, recent items, top category and popularity."""

    def __init__(
        self,
        client: redis.Redis,
        config: EventServiceConfig,
        category_of: Callable[[str], str | None],
    ) -> None:
        self.client = client
        self._seen_filter: SeenFilter | None = None
        self.config = config
        self.category_of = category_of
        self._claim = client.register_script(_CLAIM_LUA)
        self._release = client.register_script(_RELEASE_LUA)

    @property
    def seen_filter(self) -> SeenFilter:
        """Created on first use: backend detection needs the store, which may be down at start-up."""
        if self._seen_filter is None:
            self._seen_filter = make_seen_filter(self.client, self.config.seen_filter)
        return self._seen_filter

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.exceptions.RedisError:
            return False

    def claim(self, events: Sequence[Event], times: Sequence[int]) -> Claim:
        """Claim each event id and record interactions as recent; raises `EventInFlightError`."""
        token = uuid.uuid4().hex
        by_visitor: dict[str, list[int]] = defaultdict(list)
        for i, event in enumerate(events):
            by_visitor[event.visitor].append(i)
        pipe = self.client.pipeline(transaction=False)
        for visitor, indices in by_visitor.items():
            args: list[str | int] = [token, self.config.claim_ttl_s, self.config.recent_items]
            args.append(self.config.recent_ttl_s)
            for i in indices:
                args += [events[i].item_id, times[i], int(events[i].is_interaction)]
            event_keys = [keys.event_id_key(visitor, events[i].event_id) for i in indices]
            self._claim(keys=[keys.recent_items_key(visitor), *event_keys], args=args, client=pipe)
        with store_errors("event claim"):
            answers = pipe.execute()
        statuses: list[Status] = ["new"] * len(events)
        recent: dict[str, list[str]] = {}
        busy = False
        for (visitor, indices), (visitor_statuses, visitor_recent) in zip(
            by_visitor.items(), answers, strict=True
        ):
            if _text(visitor_statuses[0]) == "busy":
                busy = True
                continue
            for i, status in zip(indices, visitor_statuses, strict=True):
                statuses[i] = cast(Status, _text(status))
            recent[visitor] = [_text(item) for item in visitor_recent]
        claim = Claim(token, statuses, recent)
        if busy:
            self.release(events, claim)
            raise EventInFlightError("an event id of this request is being applied by another request")
        return claim

    def apply(self, events: Sequence[Event], times: Sequence[int], claim: Claim) -> None:
        """Seen filter, top category and popularity for the newly claimed interactions."""
        fresh = [i for i in claim.new_indices() if events[i].is_interaction]
        if not fresh:
            return
        seen_batches: dict[tuple[str, int], list[str]] = defaultdict(list)
        for i in fresh:
            seen_batches[(events[i].visitor, times[i] - times[i] % keys.SECONDS_PER_DAY)].append(
                events[i].item_id
            )
        pipe = self.client.pipeline(transaction=False)
        seen = self.seen_filter
        for (visitor, day_start), items in seen_batches.items():
            if isinstance(seen, BitmapSeenFilter):  # all visitors in this request's one round trip
                key = keys.seen_key(visitor, keys.utc_day(day_start))
                ops: list[str | int] = []
                for pos in np.unique(seen.positions(np.asarray(items))).tolist():
                    ops += ["SET", "u1", pos, 1]  # SETBIT pos 1, one command per visitor-day
                pipe.execute_command("BITFIELD", key, *ops)  # type: ignore[no-untyped-call]
                pipe.expire(key, seen.config.ttl)
            else:
                seen.add(visitor, items, at=day_start)
        ttl = self.config.recent_ttl_s
        for visitor in {events[i].visitor for i in fresh}:
            top = top_category(claim.recent.get(visitor, []), self.category_of)
            if top is None:
                pipe.delete(keys.top_category_key(visitor))
            else:
                pipe.set(keys.top_category_key(visitor), top, ex=ttl)
        self._popularity(pipe, [(events[i].item_id, times[i]) for i in fresh])
        with store_errors("event effects"):
            pipe.execute()

    def _popularity(self, pipe: redis.client.Pipeline, items: Sequence[tuple[str, int]]) -> None:
        """`Popularity.record_many` for events at different times, in the caller's pipeline."""
        config = self.config.popularity
        touched: set[str] = set()
        for item_id, at in items:
            era = era_of(at, config)
            category = self.category_of(item_id)
            for target in (era, era + 1):
                inc = forward_weight(at, target, config)
                set_keys = [keys.pop_global_key(target)]
                if category:
                    set_keys.append(keys.pop_category_key(category, target))
                for key in set_keys:
                    pipe.zincrby(key, inc, item_id)
                    touched.add(key)
        for key in sorted(touched):
            pipe.expire(key, config.ttl)

    def mark_done(self, events: Sequence[Event], indices: Sequence[int]) -> None:
        """The events are applied and logged: retries from now on are duplicates."""
        if not indices:
            return
        pipe = self.client.pipeline(transaction=False)
        for i in indices:
            key = keys.event_id_key(events[i].visitor, events[i].event_id)
            pipe.set(key, "done", ex=self.config.idempotency_ttl_s)
        with store_errors("event done markers"):
            pipe.execute()

    def mark_done_keys(self, visitor_event_ids: Sequence[tuple[str, str]]) -> None:
        """Replay at start-up: events found in the WAL were applied before the crash."""
        pipe = self.client.pipeline(transaction=False)
        for visitor, event_id in visitor_event_ids:
            pipe.set(keys.event_id_key(visitor, event_id), "done", ex=self.config.idempotency_ttl_s)
        with store_errors("replayed event markers"):
            pipe.execute()

    def release(self, events: Sequence[Event], claim: Claim) -> None:
        """Drop this request's claims so a retry can apply the events (best effort)."""
        by_visitor: dict[str, list[str]] = defaultdict(list)
        for i in claim.new_indices():
            by_visitor[events[i].visitor].append(keys.event_id_key(events[i].visitor, events[i].event_id))
        pipe = self.client.pipeline(transaction=False)
        for event_keys in by_visitor.values():
            self._release(keys=event_keys, args=[claim.token], client=pipe)
        with store_errors("event claim release"):
            pipe.execute()
