"""The event service's half of an experiment: credit an event to the homepage it came from.

An event carrying a `recommendation_id` (Personalize's RECOMMENDATION_ID) counts for that
homepage's arm when the homepage record still exists (it expires after the attribution
window), the event is the same visitor's, its item was on that homepage, and it happened
within the window after the homepage was served. Each goal is counted twice: every event
(`events:<goal>`) and the homepage's first one (`goal:<goal>`, set once through HSETNX), the
binomial the decision compares. Single-key commands in pipelines only, so it runs on a Valkey
cluster too (a homepage record and its arm's counters hash to different slots). Three
round trips per request, and none for requests without a recommendation id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import redis

from recsys_workloads.contracts.experiment import (
    GOAL_EVENT_TYPE,
    ITEM_SEPARATOR,
    CounterField,
    Goal,
    RecommendationField,
)
from recsys_workloads.contracts.keys import arm_counters_key, recommendation_key
from recsys_workloads.online.client import store_errors

GOAL_OF_EVENT_TYPE: dict[str, Goal] = {event_type: goal for goal, event_type in GOAL_EVENT_TYPE.items()}
Outcome = Literal["attributed", "expired", "other_visitor", "not_shown", "outside_window"]
_FIELDS = (
    RecommendationField.EXPERIMENT,
    RecommendationField.ARM,
    RecommendationField.VISITOR,
    RecommendationField.ITEMS,
    RecommendationField.SERVED_AT,
)


@dataclass(frozen=True)
class Attributable:
    """One accepted event that names a recommendation and is a goal."""

    recommendation_id: str
    visitor: str
    item_id: str
    goal: Goal
    at: int


def outcome(
    record: Sequence[str | None], event: Attributable, window_s: int | None = None
) -> tuple[Outcome, str, str]:
    """Whether `event` counts for the homepage `record` (HMGET of `_FIELDS`), and its experiment and arm."""
    experiment, arm, visitor, items, served_at = record
    if experiment is None or arm is None or served_at is None:
        return "expired", "", ""
    if visitor != event.visitor:
        return "other_visitor", experiment, arm
    if event.item_id not in (items or "").split(ITEM_SEPARATOR):
        return "not_shown", experiment, arm
    delay = event.at - float(served_at)
    # The record's TTL is the window; `window_s` re-checks events sent late with an old timestamp.
    if delay < -5 or (window_s is not None and delay > window_s):
        return "outside_window", experiment, arm
    return "attributed", experiment, arm


def attribute(
    client: redis.Redis, events: Sequence[Attributable], window_s: int | None = None
) -> dict[Outcome, int]:
    """Credit `events` (already accepted, each once) to their homepages; returns counts by outcome.

    Raises `OnlineStoreUnavailableError` when Valkey does not answer.
    """
    counts: dict[Outcome, int] = {}
    if not events:
        return counts
    with store_errors("attribution"):
        pipe = client.pipeline(transaction=False)
        for event in events:
            pipe.hmget(recommendation_key(event.recommendation_id), list(_FIELDS))
        records = pipe.execute()
        credited: list[tuple[Attributable, str]] = []
        pipe = client.pipeline(transaction=False)
        for event, record in zip(events, records, strict=True):
            result, experiment, arm = outcome([_text(v) for v in record], event, window_s)
            counts[result] = counts.get(result, 0) + 1
            if result == "attributed":
                credited.append((event, arm_counters_key(experiment, arm)))
                pipe.hsetnx(
                    recommendation_key(event.recommendation_id), RecommendationField.counted(event.goal), "1"
                )
        if not credited:
            return counts
        first = pipe.execute()
        pipe = client.pipeline(transaction=False)
        for (event, counters), is_first in zip(credited, first, strict=True):
            pipe.hincrby(counters, CounterField.goal_events(event.goal), 1)
            if is_first:
                pipe.hincrby(counters, CounterField.goal_homepages(event.goal), 1)
        pipe.execute()
    return counts


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
