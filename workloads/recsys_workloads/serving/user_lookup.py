"""Step 2: the visitor's online features from the Valkey keys the event service writes.

`recent:{<user>}` (sorted set, item -> last interaction time) and `topcat:{<user>}`. Age
and gender have no online key yet: they stay missing, which is what the models learned
for anonymous visitors. Valkey down or no id → cold-start defaults, never an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

import redis

from recsys_workloads.online import keys
from recsys_workloads.online.client import UNAVAILABLE_ERRORS


@dataclass(frozen=True)
class UserRecord:
    """Raw (untransformed) user features; `user_key` is "" when the visitor sent no id."""

    user_key: str
    recent_items: list[str] = field(default_factory=list)
    top_category: str | None = None
    age: float = math.nan
    gender: str | None = None
    store_skipped: bool = False


def lookup_user(client: redis.Redis | None, user_id: str, recent_items: int) -> UserRecord:
    """Recent items (most recent first) and top category in one pipelined round trip."""
    user = user_id.strip()
    if not user:
        return UserRecord("")
    if client is None:
        return UserRecord(user, store_skipped=True)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zrevrange(keys.recent_items_key(user), 0, recent_items - 1)
        pipe.get(keys.top_category_key(user))
        recent, top = cast(tuple[list[bytes], bytes | None], tuple(pipe.execute()))
    except UNAVAILABLE_ERRORS:
        return UserRecord(user, store_skipped=True)
    return UserRecord(
        user,
        recent_items=[_text(r) for r in recent],
        top_category=_text(top) if top else None,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
