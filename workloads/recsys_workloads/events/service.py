"""The event pipeline without HTTP: validate, claim, apply, log durably, mark done.

Order matters for the guarantees (see docs/online.md): online effects first, WAL fsync
second, acknowledgement last. A Valkey outage before the WAL means nothing is logged
and the caller answers 503; once the WAL holds the events they are acknowledged.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import redis

from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.data import schema as s
from recsys_workloads.events.catalog import ItemCategories, dataset_origin, load_item_categories
from recsys_workloads.events.event_log import EventLog
from recsys_workloads.events.metrics import EventMetrics
from recsys_workloads.events.models import Event, EventOutcome, EventsResponse
from recsys_workloads.events.offline_log import EVENT_ID, Record, record_key
from recsys_workloads.events.online_effects import Claim, OnlineEffects
from recsys_workloads.events.validation import EventRejectedError, validate_request
from recsys_workloads.experiments.attribution import GOAL_OF_EVENT_TYPE, Attributable, attribute
from recsys_workloads.online.client import OnlineStoreUnavailableError, connect

log = logging.getLogger(__name__)


def to_record(event: Event, at: int) -> Record:
    return {
        EVENT_ID: event.event_id,
        s.USER_ID: event.user_id,
        s.ANONYMOUS_ID: event.anonymous_id,
        s.ITEM_ID: event.item_id,
        s.TIMESTAMP: at,
        s.DEVICE_TYPE: event.device,
        s.EVENT_TYPE: event.event_type,
    }


def _event_type_label(body: object) -> list[str]:
    """Event types of a rejected body, as far as they are legible (for the rejected counter)."""
    raw = body.get("events") if isinstance(body, dict) and "events" in body else [body]
    if not isinstance(raw, list):
        return ["invalid"]
    return [
        e["event_type"] if isinstance(e, dict) and e.get("event_type") in s.EVENT_TYPES else "invalid"
        for e in raw[:10_000]
    ]


@dataclass
class EventService:
    config: EventServiceConfig
    catalog: ItemCategories
    effects: OnlineEffects
    event_log: EventLog
    metrics: EventMetrics = field(default_factory=EventMetrics)

    @classmethod
    def open(cls, config: EventServiceConfig) -> EventService:
        """Load the catalog, connect (Valkey may still be down), recover what a crash left in the WAL."""
        catalog = load_item_categories(config.catalog)
        origin = config.day_origin_timestamp
        if origin is None:
            origin = dataset_origin(config.catalog) or 0
        client = connect(config.redis_url, timeout_s=config.store_timeout_s)
        service = cls(
            config,
            catalog,
            OnlineEffects(client, config, catalog.of),
            EventLog(config.log_dir, config.writer_id, origin, config.wal),
        )
        service.recover()
        return service

    def recover(self) -> int:
        """Replay: leftover WAL segments become parquet; their ids are marked done (best effort)."""
        leftover = self.event_log.leftover_records()
        if not leftover:
            return 0
        try:
            self.effects.mark_done_keys([record_key(r) for r in leftover])
        except OnlineStoreUnavailableError as exc:
            log.warning("replay: could not mark %d event ids done: %s", len(leftover), exc)
        rows = self.event_log.flush()
        log.info("replayed %d acknowledged events from the WAL", rows)
        return rows

    def start(self) -> None:
        self.event_log.start()

    def close(self) -> None:
        self.event_log.close()
        self.effects.client.close()

    def handle(self, body: object, now: float | None = None) -> EventsResponse:
        """Apply a request body; raises `EventRejectedError`, `EventInFlightError`, `OnlineStoreUnavailableError`."""
        now = time.time() if now is None else now
        try:
            events, times = validate_request(body, now, self.config.limits, self.catalog.category)
        except EventRejectedError:
            for event_type in _event_type_label(body):
                self.metrics.events.labels("rejected", event_type).inc()
            raise
        claim = self.effects.claim(events, times)
        new = claim.new_indices()
        try:
            self.effects.apply(events, times, claim)
            self.event_log.append([to_record(events[i], times[i]) for i in new])
        except (OnlineStoreUnavailableError, OSError):
            self._release_quietly(events, claim)
            raise
        try:
            self.effects.mark_done(events, new)
        except OnlineStoreUnavailableError as exc:  # logged and applied: acknowledge anyway
            log.warning(
                "events acknowledged but not marked done (a retry within %d s is refused): %s",
                self.config.claim_ttl_s,
                exc,
            )
        self._attribute([events[i] for i in new], [times[i] for i in new])
        counts = Counter((status, events[i].event_type) for i, status in enumerate(claim.statuses))
        for (status, event_type), n in counts.items():
            self.metrics.events.labels("accepted" if status == "new" else "duplicate", event_type).inc(n)
        self.metrics.wal_rows.set(self.event_log.wal.open_rows)
        results = [
            EventOutcome(event_id=e.event_id, status="accepted" if st == "new" else "duplicate")
            for e, st in zip(events, claim.statuses, strict=True)
        ]
        return EventsResponse(accepted=len(new), duplicates=len(events) - len(new), results=results)

    def _attribute(self, events: list[Event], times: list[int]) -> None:
        """Credit new events to their experiment arms; best effort, after they are durable.

        Attribution is a report, not state the homepage needs: a Valkey failure here is
        counted (`store_down`) and the events are still acknowledged.
        """
        credit = [
            Attributable(e.recommendation_id, e.visitor, e.item_id, GOAL_OF_EVENT_TYPE[e.event_type], at)
            for e, at in zip(events, times, strict=True)
            if e.recommendation_id is not None and e.event_type in GOAL_OF_EVENT_TYPE
        ]
        if not credit:
            return
        try:
            outcomes = attribute(self.effects.client, credit)
        except (OnlineStoreUnavailableError, redis.RedisError) as exc:
            log.warning("%d events not attributed to their experiment arm: %s", len(credit), exc)
            self.metrics.attributions.labels("store_error").inc(len(credit))
            return
        for result, n in outcomes.items():
            self.metrics.attributions.labels(result).inc(n)

    def _release_quietly(self, events: list[Event], claim: Claim) -> None:
        with contextlib.suppress(OnlineStoreUnavailableError):  # else the claims expire after claimTtlS
            self.effects.release(events, claim)
