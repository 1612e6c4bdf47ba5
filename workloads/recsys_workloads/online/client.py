"""Redis clients that fail fast, and the one exception an unreachable store raises.

redis-py 7 retries a failed command 3 times with exponential backoff of up to 10 s by
default; on the request path a down Valkey must cost milliseconds, not seconds, so
online clients get short socket timeouts and no retries.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

DEFAULT_TIMEOUT_S = 0.25

UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
)


class OnlineStoreUnavailableError(RuntimeError):
    """Valkey/Redis cannot be reached: writers surface it (the event service answers 503)."""


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Turn connection-level redis errors into `OnlineStoreUnavailableError`; others pass through."""
    try:
        yield
    except UNAVAILABLE_ERRORS as exc:
        raise OnlineStoreUnavailableError(f"{what}: online store unreachable: {exc}") from exc


PASSWORD_ENV = "VALKEY_PASSWORD"  # set from the spec's passwordSecretRef in the cluster


def connect(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> redis.Redis:
    """A client with `timeout_s` connect/read timeouts and no retries (fail fast, fall back).

    A URL without a password takes `$VALKEY_PASSWORD`, so secrets never sit in config files.
    """
    password = os.environ.get(PASSWORD_ENV) or None
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        **({"password": password} if password and urlsplit(url).password is None else {}),
    )
