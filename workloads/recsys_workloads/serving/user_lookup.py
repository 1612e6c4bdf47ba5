"""Step 2: the visitor's online features, the same ones the ranker trained on.

Recent items and top category come from the Valkey keys the event service writes
(`recent:{<user>}`, a sorted set item -> last interaction time, and `topcat:{<user>}`);
training derives them with the same rules (`features.history`). Age and gender come from
the user profiles published with the model version (`users.npz`, what the ranker learned
from), held in memory like the item cache: a binary search costs 0.02 ms, a Feast
online read 0.5 ms and a second round trip (docs/benchmarks.md). Users missing from the profiles (signed up
after the version, or profile-less) get missing age and gender, as in training. Valkey
down or no id -> cold-start defaults, never an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import redis

from recsys_workloads.contracts import keys
from recsys_workloads.models import artifacts
from recsys_workloads.online.client import UNAVAILABLE_ERRORS
from recsys_workloads.serving.popular import is_anonymous


@dataclass(frozen=True)
class UserRecord:
    """Raw (untransformed) user features; `user_key` is "" when the visitor sent no id."""

    user_key: str
    recent_items: list[str] = field(default_factory=list)
    top_category: str | None = None
    age: float = math.nan
    gender: str | None = None
    store_skipped: bool = False


class UserProfiles:
    """Age and gender by user id, from a version's `users.npz` (ids sorted at publish)."""

    def __init__(
        self, user_ids: npt.NDArray[np.str_], ages: npt.NDArray[np.float64], genders: npt.NDArray[np.str_]
    ) -> None:
        self.user_ids, self.ages, self.genders = user_ids, ages, genders

    @classmethod
    def load(cls, version_dir: Path) -> UserProfiles:
        """A version published before profiles existed serves every user profile-less."""
        path = version_dir / artifacts.USERS_FILE
        return cls(*artifacts.load_users(path)) if path.exists() else NO_PROFILES

    def __len__(self) -> int:
        return len(self.user_ids)

    def get(self, user_id: str) -> tuple[float, str | None]:
        """(age, gender); NaN and None when unknown, exactly as training's `Users.attributes`."""
        at = int(np.searchsorted(self.user_ids, user_id))
        if at == len(self.user_ids) or self.user_ids[at] != user_id:
            return math.nan, None
        gender = str(self.genders[at])
        return float(self.ages[at]), gender or None


NO_PROFILES = UserProfiles(np.array([], dtype=str), np.array([], dtype=np.float64), np.array([], dtype=str))


def lookup_user(
    client: redis.Redis | None, user_id: str, recent_items: int, profiles: UserProfiles = NO_PROFILES
) -> UserRecord:
    """Recent items (most recent first) and top category in one pipelined round trip, plus the profile."""
    user = user_id.strip()
    if not user:
        return UserRecord("")
    age, gender = (math.nan, None) if is_anonymous(user) else profiles.get(user)
    if client is None:
        return UserRecord(user, age=age, gender=gender, store_skipped=True)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zrevrange(keys.recent_items_key(user), 0, recent_items - 1)
        pipe.get(keys.top_category_key(user))
        recent, top = cast(tuple[list[bytes], bytes | None], tuple(pipe.execute()))
    except UNAVAILABLE_ERRORS:
        return UserRecord(user, age=age, gender=gender, store_skipped=True)
    return UserRecord(
        user,
        recent_items=[_text(r) for r in recent],
        top_category=_text(top) if top else None,
        age=age,
        gender=gender,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
