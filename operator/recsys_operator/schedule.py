"""When an incremental TrainingRun is due, as a pure function of the cron schedule.

Like a CronJob with `concurrencyPolicy: Forbid` and one catch-up: after downtime only the
most recent missed slot runs (training on every missed day at once would be wasted work,
since an incremental run reads all new interactions anyway), and never while another run
of the same recommender is in flight.
"""

from __future__ import annotations

import datetime as dt

from croniter import croniter


def invalid_schedule(schedule: str) -> str | None:
    if not croniter.is_valid(schedule):
        return f"spec.training.incrementalSchedule: {schedule!r} is not a cron expression"
    return None


def due_slot(
    schedule: str, last_scheduled: dt.datetime | None, not_before: dt.datetime, now: dt.datetime
) -> dt.datetime | None:
    """The latest slot in (max(last_scheduled, not_before), now], or None if nothing is due."""
    latest = croniter(schedule, now).get_prev(dt.datetime)
    floor = max(t for t in (last_scheduled, not_before) if t is not None)
    return latest if latest > floor else None


def run_name(recommender: str, slot: dt.datetime) -> str:
    """Deterministic per slot: a restarted operator re-applies the same run, never a second."""
    return f"{recommender}-incr-{slot.astimezone(dt.UTC):%Y%m%d%H%M}"
