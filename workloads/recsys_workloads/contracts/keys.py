"""The one home of the online key layout in Valkey/Redis.

Seen-items filters (one per user per UTC day):

- ``seen:{<user>}:<yyyymmdd>``     portable bitmap backend (a plain string of bits)
- ``seen:{<user>}:<yyyymmdd>:bf``  native ``BF.*`` backend (module type)

The user id sits in a hash tag, so every day filter of one user lives in one cluster
slot and a single Lua script or pipeline may touch all of them (Redis Cluster rejects
multi-key scripts across slots). The two backends use different names so switching
backend never hits WRONGTYPE; the other backend's filters simply age out by TTL.

Popularity (forward-decayed sorted sets, see `popularity`), keyed by decay era ``<e>``:

- ``pop:e<e>:global``              every item
- ``pop:e<e>:cat:<category>``      one category

Popularity keys are not hash-tagged: each write is pipelined per key, never scripted
across keys, and spreading categories over slots spreads the load.

Per-visitor state the event service writes (`recsys_workloads.events`), hash-tagged like
the seen filters so one Lua script may claim events and update recent items atomically:

- ``recent:{<user>}``              sorted set: item id -> last interaction time (s), trimmed
- ``topcat:{<user>}``              string: the category of most of the recent items
- ``evt:{<user>}:<event id>``      idempotency marker of one client event id ("p:<token>" / "done")

A visitor is a user id or an anonymous id (``anon-...``); both share these layouts.

Online experiments (`contracts.experiment`): the API writes one record per served homepage,
the event service attributes events to it, the operator reads the per-arm counters:

- ``rec:<recommendation id>``      hash: experiment, arm, version, items, served_at, and the
                                   goals already counted; expires after the attribution window
- ``exp:<experiment>:<arm>``       hash: per-arm counters (`ArmCounters` fields)

Several recommenders may share one Valkey: with ``$RECSYS_KEY_NAMESPACE`` set (the operator
sets ``<namespace>/<name>`` on every pod of a recommender) each key above starts with
``<namespace>:``, outside the hash tag, so slots are unchanged and deleting a recommender
can remove exactly its keys (``namespace_pattern``).
"""

from __future__ import annotations

import datetime as dt
import os

SEEN_PREFIX = "seen"
NATIVE_SUFFIX = "bf"
POP_PREFIX = "pop"
RECENT_PREFIX = "recent"
TOP_CATEGORY_PREFIX = "topcat"
EVENT_PREFIX = "evt"
RECOMMENDATION_PREFIX = "rec"
EXPERIMENT_PREFIX = "exp"
SECONDS_PER_DAY = 86_400
RECENT_KEPT = 50
"""Items a ``recent:{<user>}`` set keeps (the newest); the top category counts these."""
NAMESPACE_ENV = "RECSYS_KEY_NAMESPACE"


def namespace() -> str:
    """The key prefix of this process's recommender ("" when Valkey is not shared)."""
    return os.environ.get(NAMESPACE_ENV, "")


def _ns(key: str, ns: str | None = None) -> str:
    """`key` under `ns` (default: this process's namespace)."""
    ns = namespace() if ns is None else ns
    return f"{ns}:{key}" if ns else key


def namespace_pattern(ns: str) -> str:
    """SCAN pattern of every key of recommender `ns` (glob characters in it escaped)."""
    if not ns:
        raise ValueError("an empty namespace would match every key")
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in ns) + ":*"


def _check_user(user_id: str | int) -> str:
    user = str(user_id)
    if not user:
        raise ValueError("user id must be non-empty (an empty hash tag would hash the whole key)")
    return user


def utc_day(at: float) -> dt.date:
    """The UTC calendar day of a Unix timestamp in seconds (the filter rotation unit)."""
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).date()


def day_stamp(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def user_hash_tag(user_id: str | int) -> str:
    """``{<user>}``: the part of a key Redis Cluster hashes to choose the slot."""
    return "{" + _check_user(user_id) + "}"


def seen_key(user_id: str | int, day: dt.date, native: bool = False) -> str:
    """Key of one user's filter for one UTC day."""
    key = _ns(f"{SEEN_PREFIX}:{user_hash_tag(user_id)}:{day_stamp(day)}")
    return f"{key}:{NATIVE_SUFFIX}" if native else key


def seen_window_keys(user_id: str | int, at: float, window_days: int, native: bool = False) -> list[str]:
    """Filters a lookup at `at` must OR: today and the `window_days - 1` days before, newest first."""
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, got {window_days}")
    today = utc_day(at)
    return [seen_key(user_id, today - dt.timedelta(days=back), native) for back in range(window_days)]


def pop_global_key(era: int) -> str:
    return _ns(f"{POP_PREFIX}:e{era}:global")


def pop_category_key(category: str, era: int) -> str:
    if not category:
        raise ValueError("category must be non-empty")
    return _ns(f"{POP_PREFIX}:e{era}:cat:{category}")


def recent_items_key(user_id: str | int) -> str:
    """Sorted set of a visitor's recently interacted items, scored by Unix seconds."""
    return _ns(f"{RECENT_PREFIX}:{user_hash_tag(user_id)}")


def top_category_key(user_id: str | int) -> str:
    """A visitor's derived top category (from the categories of the recent items)."""
    return _ns(f"{TOP_CATEGORY_PREFIX}:{user_hash_tag(user_id)}")


def event_id_key(user_id: str | int, event_id: str) -> str:
    """Idempotency marker of one client-supplied event id, scoped to its visitor (same slot)."""
    if not event_id:
        raise ValueError("event id must be non-empty")
    return _ns(f"{EVENT_PREFIX}:{user_hash_tag(user_id)}:{event_id}")


def recommendation_key(recommendation_id: str) -> str:
    """The served homepage a later event may be attributed to."""
    if not recommendation_id:
        raise ValueError("recommendation id must be non-empty")
    return _ns(f"{RECOMMENDATION_PREFIX}:{recommendation_id}")


def arm_counters_key(experiment: str, arm: str, ns: str | None = None) -> str:
    """Per-arm counters of one experiment (homepages, attributed goals, errors, latency buckets).

    `ns`: the recommender's namespace, for a reader serving many (the operator)."""
    if not experiment or not arm:
        raise ValueError("experiment and arm must be non-empty")
    return _ns(f"{EXPERIMENT_PREFIX}:{experiment}:{arm}", ns)
