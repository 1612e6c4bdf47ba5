"""HTTP front of the event service: `create_app(config)` for uvicorn and tests."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.events.models import ErrorResponse, EventsResponse
from recsys_workloads.events.online_effects import EventInFlightError
from recsys_workloads.events.service import EventService
from recsys_workloads.events.validation import PAYLOAD, EventRejectedError
from recsys_workloads.online.client import OnlineStoreUnavailableError
from recsys_workloads.runtime.http_guard import HttpGuard, TokenBuckets, required_token

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        401: "no or a wrong bearer token (when one is configured: guard.tokenRequired, $RECSYS_AUTH_TOKEN)",
        409: "an event id of the request is being applied by a concurrent request; retry after Retry-After",
        413: "more events than limits.maxBatch, or a body over guard.maxBodyBytes",
        422: "malformed event, unknown type or item, both/neither visitor ids, timestamp out of range",
        429: "the client's rate limit (guard.rateLimit) is spent; retry after Retry-After",
        503: "Valkey unreachable or the WAL not writable: nothing acknowledged; retry after Retry-After",
    }.items()
}


def _error(
    status: int, detail: str, errors: list[str] | None = None, retry_after: int | None = None
) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    body = ErrorResponse(detail=detail, errors=errors or []).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


def _openapi_with_payload(app: FastAPI) -> dict[str, Any]:
    """The body is parsed by hand (one validation path for HTTP and tests); document it here."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    payload = PAYLOAD.json_schema(ref_template="#/components/schemas/{model}")
    schema.setdefault("components", {}).setdefault("schemas", {}).update(payload.pop("$defs", {}))
    schema["paths"]["/events"]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": payload}},
    }
    app.openapi_schema = schema
    return schema


def create_app(
    config: EventServiceConfig,
    service: EventService | None = None,
    *,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The service opens (catalog, WAL replay) at start-up and flushes the WAL to parquet at shutdown.

    The token comes from `env` (default the process environment; `runtime.http_guard.load_token`),
    `clock` drives the rate limiter's buckets. Raises `TokenMissingError` when the config asks for
    a token the environment lacks.
    """
    token = required_token(config.guard, env)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc: EventService = (
            service if service is not None else await run_in_threadpool(EventService.open, config)
        )
        app.state.service = svc
        svc.start()
        try:
            yield
        finally:
            await run_in_threadpool(svc.close)

    app = FastAPI(
        title="recsys events",
        version="1",
        description="Interactions in; online state (seen filter, recent items, top category, popularity) "
        "updated before the answer; every acknowledged event logged for training.",
        lifespan=lifespan,
    )

    def svc_of(request: Request) -> EventService:
        svc: EventService = request.app.state.service
        return svc

    @app.post(
        "/events",
        response_model=EventsResponse,
        responses=_ERRORS,
        summary="Record one event or a batch {events: [...]}",
    )
    async def post_events(request: Request) -> Response:
        svc = svc_of(request)
        started = time.perf_counter()
        response = await _post(svc, await request.body())
        svc.metrics.latency.observe(time.perf_counter() - started)
        svc.metrics.requests.labels(str(response.status_code)).inc()
        return response

    async def _post(svc: EventService, raw: bytes) -> Response:
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(422, "body is not JSON", [str(exc)])
        try:
            result = await run_in_threadpool(svc.handle, body)
        except EventRejectedError as exc:
            return _error(exc.status, exc.detail, exc.errors)
        except EventInFlightError as exc:
            return _error(409, str(exc), retry_after=1)
        except OnlineStoreUnavailableError as exc:
            return _error(503, f"not accepted: {exc}", retry_after=svc.config.retry_after_s)
        except OSError as exc:
            return _error(
                503, f"not accepted: event log not writable: {exc}", retry_after=svc.config.retry_after_s
            )
        return JSONResponse(result.model_dump(), status_code=200)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Valkey is reachable (events can be accepted)", responses={503: {}})
    async def readyz(request: Request) -> Response:
        if await run_in_threadpool(svc_of(request).effects.ping):
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "valkey unreachable"}, status_code=503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        svc = svc_of(request)
        svc.metrics.wal_bytes.set(svc.event_log.wal.size_bytes())
        svc.metrics.wal_rows.set(svc.event_log.wal.open_rows)
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.openapi = lambda: _openapi_with_payload(app)  # type: ignore[method-assign]
    app.add_middleware(
        HttpGuard, config=config.guard, token=token, buckets=TokenBuckets(config.guard.rate_limit, clock)
    )
    return app
