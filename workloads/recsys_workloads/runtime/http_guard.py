"""What stands in front of the API's and the event service's routes: rate limit, bearer token, body size.

A plain ASGI middleware (no per-request task or response wrapping, unlike Starlette's
`BaseHTTPMiddleware`). In order, for every path but the open ones (health, readiness,
metrics, the OpenAPI document, the docs and the demo page's static files):

1. a token bucket per client address (429 with Retry-After once it is empty);
2. `Authorization: Bearer <token>` compared in constant time when a token is configured
   (401 with `WWW-Authenticate: Bearer`);
3. the body at most `max_body_bytes` (413), read before the route sees it, so no route buffers
   an unbounded body.

The rate limit comes first so that guessing tokens is throttled too. Every refusal is the
services' problem body `{"detail": ..., "errors": [...]}` naming the limit.
"""

from __future__ import annotations

import hmac
import json
import math
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys_workloads.contracts.access import AccessEnv, GuardConfig, RateLimitConfig

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS: frozenset[str] = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/"}
)
OPEN_PREFIXES: tuple[str, ...] = ("/static/",)


class TokenMissingError(RuntimeError):
    """The config asks for a token and the environment has none: refuse to start, never serve open."""


def load_token(env: Mapping[str, str] | None = None, variable: str = AccessEnv.TOKEN) -> str:
    """The token from `$RECSYS_AUTH_TOKEN`, else the file `$RECSYS_AUTH_TOKEN_FILE` names ('' if neither)."""
    env = os.environ if env is None else env
    token = env.get(variable, "").strip()
    if token or variable != AccessEnv.TOKEN:
        return token
    path = env.get(AccessEnv.TOKEN_FILE, "")
    return Path(path).read_text().strip() if path else ""


def required_token(config: GuardConfig, env: Mapping[str, str] | None = None) -> str:
    token = load_token(env)
    if config.token_required and not token:
        raise TokenMissingError(
            f"a token is required (the spec names a Secret) but ${AccessEnv.TOKEN} is empty "
            f"and ${AccessEnv.TOKEN_FILE} names no file with one"
        )
    return token


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class TokenBuckets:
    """One bucket per client, least recently seen dropped beyond `max_clients` (memory stays bounded).

    `clock` is injectable (tests move time instead of sleeping). A dropped client comes back with
    a full bucket, so `max_clients` must exceed the clients active within one refill.
    """

    limit: RateLimitConfig
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)

    @property
    def enabled(self) -> bool:
        return self.limit.requests_per_second > 0

    def take(self, client: str) -> float:
        """0 when the request may pass (a token taken), else the seconds until one is refilled."""
        if not self.enabled:
            return 0.0
        now, rate, burst = self.clock(), self.limit.requests_per_second, float(self.limit.burst)
        bucket = self._buckets.pop(client, None) or _Bucket(tokens=burst, at=now)
        bucket.tokens = min(burst, bucket.tokens + max(0.0, now - bucket.at) * rate)
        bucket.at = now
        self._buckets[client] = bucket
        while len(self._buckets) > self.limit.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _bearer(headers: Collection[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, credentials = value.strip().partition(b" ")
            return credentials.strip() if scheme.lower() == b"bearer" else None
    return None


def _content_length(headers: Collection[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _problem(
    send: Send, status: int, detail: str, errors: list[str], headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps({"detail": detail, "errors": errors}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HttpGuard:
    """ASGI middleware: `app.add_middleware(HttpGuard, config=..., token=..., buckets=...)`."""

    def __init__(self, app: Asgi, config: GuardConfig, token: str = "", buckets: TokenBuckets | None = None):
        self.app = app
        self.config = config
        self.token = token.encode()
        self.buckets = buckets if buckets is not None else TokenBuckets(config.rate_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.buckets.take(str(client))
        if wait > 0:
            limit = self.config.rate_limit
            await _problem(
                send,
                429,
                "too many requests",
                [f"at most {limit.burst} requests at once and {limit.requests_per_second:g}/s per client"],
                [(b"retry-after", str(max(1, math.ceil(wait))).encode())],
            )
            return
        headers = scope.get("headers") or []
        if self.token:
            given = _bearer(headers)
            if given is None or not hmac.compare_digest(given, self.token):
                what = "no bearer token" if given is None else "wrong bearer token"
                await _problem(
                    send,
                    401,
                    "unauthorized",
                    [f"Authorization: {what} (send 'Authorization: Bearer <token>')"],
                    [(b"www-authenticate", b'Bearer realm="recsys"')],
                )
                return
        cap = self.config.max_body_bytes
        declared = _content_length(headers)
        if declared is not None and declared > cap:
            await _too_large(send, cap)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # disconnected: let the app see it
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _too_large(send, cap)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay([{"type": "http.request", "body": b"".join(chunks)}], receive), send)


async def _too_large(send: Send, cap: int) -> None:
    await _problem(send, 413, "request body too large", [f"body: at most {cap} bytes (maxBodyBytes)"], [])


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """The buffered body once, then the connection's own messages (a disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
