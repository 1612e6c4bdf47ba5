"""Recommendation API (FastAPI) in front of Triton's homepage ensemble over gRPC.

A valid request always gets a 200: if Triton is down, slow (`timeout_s`) or fails, the
answer is popularity minus the visitor's seen items, flagged `fallback: true`; if Valkey
is down too, the last popular list seen (possibly empty), flagged as well. Invalid
requests get a 422 that names the field.

With `catalog` the API also serves the demo page (`GET /`, static files from `web/`, no
build step) and what it needs: item names/categories/prices/images (`GET /v1/items`),
demo visitors and a visitor's online state, the experiment's live arms and the serving version's
evaluation report (`/v1/demo/...`). The page's clicks go through
`POST /v1/demo/events`, a thin proxy to the event service (`events_url`), rather than
straight to the event service with CORS: the page then talks to one origin only, the event
service can stay cluster-internal (no second public address, no allowed-origin list to keep
in step with wherever the API is exposed), and validation stays the event service's own
(its 4xx come back unchanged). The cost is one loopback hop.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from recsys_workloads.contracts.access import AccessEnv, GuardConfig
from recsys_workloads.contracts.evaluation import REPORT_JSON, ChartGroup, EvaluationReport, chart
from recsys_workloads.contracts.experiment import ResolvedArm, ResolvedExperiment
from recsys_workloads.contracts.serving import ENSEMBLE, Ensemble
from recsys_workloads.models.artifacts import EVALUATION_DIR
from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import SeenFilter, make_seen_filter
from recsys_workloads.runtime.http_guard import HttpGuard, TokenBuckets, load_token, required_token
from recsys_workloads.serving.api.demo_catalog import (
    DemoCatalog,
    DemoVisitors,
    ItemInfo,
    RegisteredVisitor,
    fresh_visitor_ids,
)
from recsys_workloads.serving.api.experiment import ExperimentRouter, ExperimentView, read_view
from recsys_workloads.serving.api.metrics import ApiMetrics, ResponseCounter
from recsys_workloads.serving.popular import recommend_popular
from recsys_workloads.serving.recommender import RecommendationRequest
from recsys_workloads.serving.triton.client import AsyncTritonRecommender, TritonUnavailableError
from recsys_workloads.serving.user_lookup import lookup_user
from recsys_workloads.vocab import ANONYMOUS_PREFIX

log = logging.getLogger(__name__)
ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
MAX_ITEMS = 100
WEB_DIR = Path(__file__).with_name("web")
DEMO_USERS = 6
MAX_EVENT_BODY = 64 * 1024
RECENT_SHOWN = 10
MAX_EXCLUDED = 1000
ItemId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


GUARD_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "no or a wrong bearer token (when one is configured: guard.tokenRequired)"},
    413: {"description": "body over guard.maxBodyBytes"},
    429: {"description": "the client's rate limit (guard.rateLimit) is spent; retry after Retry-After"},
}


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    triton_url: str = Field(description="Triton gRPC address host:port")
    model: Ensemble = Field(ENSEMBLE, description="ensemble to call")
    timeout_s: float = Field(0.5, gt=0, le=30, description="deadline of one Triton call")
    redis_url: str = Field("", description="Valkey for the popularity fallback ('' disables it)")
    catalog: Path | None = Field(
        None, description="canonical dataset folder or items.parquet: enables /v1/items and the demo page"
    )
    events_url: str = Field(
        "", description="event service base URL the demo page's clicks go to ('' disables /v1/demo/events)"
    )
    events_timeout_s: float = Field(5.0, gt=0, le=60, description="deadline of one forwarded event request")
    guard: GuardConfig = Field(
        default_factory=GuardConfig,
        description="token, rate limit and body size in front of every route but health, docs and static files",
    )
    experiment: ResolvedExperiment | None = Field(
        None, description="arms to split visitors over (needs redis_url: homepages are logged there)"
    )
    report: Path | None = Field(
        None,
        description="the serving version's evaluation report: report.json, or the version folder "
        "holding evaluation/report.json (GET /v1/demo/report, with a catalog)",
    )

    @model_validator(mode="after")
    def _experiment_store(self) -> ApiConfig:
        if self.experiment is not None and not self.redis_url:
            raise ValueError(
                "an experiment needs redis_url: its homepages are logged in Valkey for attribution"
            )
        return self


class RecommendationIn(BaseModel):
    """A homepage request: a registered user, an anonymous session, or neither."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, pattern=ID_PATTERN, description="registered user id")
    session_id: str | None = Field(None, pattern=ID_PATTERN, description="anonymous session id")
    device: str | None = Field(None, max_length=32, description="web, ios, android (others: unknown)")
    timestamp: int | None = Field(None, ge=0, le=2**40, description="Unix seconds; default now")
    num_items: int = Field(10, ge=1, le=MAX_ITEMS, description="items to return")
    exclude_item_ids: list[ItemId] = Field(
        default_factory=list, max_length=MAX_EXCLUDED, description="never return these"
    )

    @model_validator(mode="after")
    def _one_visitor(self) -> RecommendationIn:
        if self.user_id and self.session_id:
            raise ValueError("give user_id or session_id, not both")
        return self

    def visitor(self) -> str:
        if self.user_id:
            return self.user_id
        if self.session_id:
            s = self.session_id
            return s if s.startswith(ANONYMOUS_PREFIX) else ANONYMOUS_PREFIX + s
        return ""


class RecommendationOut(BaseModel):
    item_ids: list[str]
    scores: list[float]
    cold_start: bool = Field(description="anonymous or unknown visitor: cold-start features were used")
    filter_skipped: bool = Field(description="Valkey was unreachable: seen items were not filtered")
    fallback: bool = Field(description="Triton was unavailable: popularity answered")
    source: Literal["triton", "popularity"]
    recommendation_id: str = Field(
        "", description="send it with events on these items (recommendation_id) so they count for the arm"
    )
    experiment: str | None = Field(None, description="the running experiment, if any")
    arm: str | None = Field(None, description="the visitor's arm of that experiment")
    version: int | None = Field(None, description="the arm's model version (None: the popularity path)")

    def tagged(
        self, recommendation_id: str, experiment: str | None, arm: ResolvedArm | None
    ) -> RecommendationOut:
        return self.model_copy(
            update={
                "recommendation_id": recommendation_id,
                "experiment": experiment,
                "arm": arm.name if arm else None,
                "version": arm.version if arm else None,
            }
        )


class _Fallback:
    def __init__(self, redis_url: str) -> None:
        self.client = connect(redis_url) if redis_url else None
        self.popularity = Popularity(self.client) if self.client is not None else None
        self._seen: SeenFilter | None = None
        self.last: list[tuple[str, float]] = []

    def seen(self) -> SeenFilter | None:
        if self._seen is None and self.client is not None:
            try:
                self._seen = make_seen_filter(self.client)
            except Exception:  # Valkey down at detection: unfiltered, flagged
                return None
        return self._seen

    def recommend(self, body: RecommendationIn) -> RecommendationOut:
        visitor, excluded = body.visitor(), set(body.exclude_item_ids)
        if self.popularity is None:
            return RecommendationOut(
                item_ids=[],
                scores=[],
                cold_start=True,
                filter_skipped=True,
                fallback=True,
                source="popularity",
            )
        seen = self.seen()
        recs = recommend_popular(
            self.popularity, seen, visitor, float(body.timestamp or time.time()),
            body.num_items + len(excluded), default=self.last,
        )  # fmt: skip
        if not recs.popularity_fallback:
            self.last = list(zip(recs.item_ids, recs.scores.tolist(), strict=True))
        kept = [
            (i, float(s))
            for i, s in zip(recs.item_ids, recs.scores.tolist(), strict=True)
            if i not in excluded
        ]
        kept = kept[: body.num_items]
        return RecommendationOut(
            item_ids=[i for i, _ in kept],
            scores=[s for _, s in kept],
            cold_start=True,
            filter_skipped=recs.filter_skipped or (seen is None and bool(visitor)),
            fallback=True,
            source="popularity",
        )


class ItemsOut(BaseModel):
    items: list[ItemInfo] = Field(description="the known ids, in the order asked")
    unknown: list[str] = Field(description="ids not in the catalog")


class VisitorStateOut(BaseModel):
    """What the event service keeps for a visitor and the homepage graph reads (step 2)."""

    visitor: str
    top_category: str | None
    recent_items: list[str] = Field(description=f"most recent first, at most {RECENT_SHOWN}")
    store_skipped: bool = Field(description="Valkey unreachable or not configured: nothing could be read")


class ReportOut(BaseModel):
    """The serving version's offline evaluation, and the grouped bars the demo page draws from it."""

    available: bool
    detail: str = Field("", description="why there is no report, when there is none")
    version: int | None = Field(None, description="the version folder's number, when it is one")
    segment: str = Field("all", description="the user segment the chart shows")
    queries: int | None = Field(None, description="held-out queries of that segment")
    groups: list[ChartGroup] = Field(
        default_factory=list, description="per metric, one bar per method (popularity, models, oracles)"
    )
    report: EvaluationReport | None = Field(None, description="report.json as written by the pipeline")


def report_path(configured: Path) -> tuple[Path, int | None]:
    """report.json and its version number: `<version>/evaluation/report.json` (or a link to it, as
    local mode keeps), or a version folder."""
    path = configured / EVALUATION_DIR / REPORT_JSON if configured.is_dir() else configured
    real = path.resolve()
    name = real.parent.parent.name if real.parent.name == EVALUATION_DIR else ""
    return path, int(name) if name.isdigit() else None


def read_report(configured: Path | None, segment: str = "all") -> ReportOut:
    """Read on every call (a few kB): a re-trained folder shows without a restart."""
    if configured is None:
        return ReportOut(available=False, detail="no report configured (ApiConfig.report)")
    path, version = report_path(configured)
    try:
        report = EvaluationReport.read(path)
    except (OSError, ValueError) as exc:
        return ReportOut(available=False, detail=f"{path}: {exc}", version=version)
    queries = next((r.queries for r in report.retrieval if r.segment == segment), None)
    return ReportOut(
        available=True,
        version=version,
        segment=segment,
        queries=queries,
        groups=chart(report, segment),
        report=report,
    )


def forward_event(events_url: str, raw: bytes, timeout_s: float, token: str = "") -> Response:
    """POST `raw` to the event service (with its bearer `token`, if any); its answer (status,
    body, Retry-After) comes back unchanged."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{events_url.rstrip('/')}/events", data=raw, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            return Response(resp.read(), status_code=resp.status, media_type="application/json")
    except urllib.error.HTTPError as exc:
        retry = exc.headers.get("Retry-After")
        return Response(
            exc.read(),
            status_code=exc.code,
            media_type="application/json",
            headers={"Retry-After": retry} if retry else None,
        )
    except OSError as exc:
        return JSONResponse({"detail": f"event service unreachable: {exc}"}, status_code=502)


def create_app(
    config: ApiConfig, *, env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.monotonic
) -> FastAPI:
    """The API; OpenAPI at /openapi.json, docs at /docs; the demo page at / with a catalog.

    Its own token and the event service's (`AccessEnv`) come from `env` (default the process
    environment); `clock` drives the rate limiter. Raises `TokenMissingError` when the config
    asks for a token the environment lacks.
    """
    environment = os.environ if env is None else env
    token = required_token(config.guard, environment)
    events_token = load_token(environment, AccessEnv.EVENTS_TOKEN)
    triton = AsyncTritonRecommender(config.triton_url, config.model, config.timeout_s)
    fallback = _Fallback(config.redis_url)
    metrics = ApiMetrics()
    router = (
        ExperimentRouter(config.experiment, fallback.client, triton, metrics)
        if config.experiment is not None and fallback.client is not None
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if router is None:
            yield
            return
        async with router.flushing():
            yield

    app = FastAPI(title="recsys homepage recommendations", version="1", lifespan=lifespan)
    app.state.metrics = metrics  # tests read it
    catalog = DemoCatalog.load(config.catalog) if config.catalog is not None else None

    def need_catalog() -> DemoCatalog:
        if catalog is None:
            raise HTTPException(
                404, "no catalog configured: start the API with a catalog (ApiConfig.catalog)"
            )
        return catalog

    @functools.cache
    def top_users() -> list[RegisteredVisitor]:
        """Scans the dataset's interactions once, on first use."""
        return need_catalog().top_users(DEMO_USERS)

    @app.post("/v1/recommendations", response_model=RecommendationOut, responses=GUARD_RESPONSES)
    async def recommend(body: RecommendationIn, response: Response) -> RecommendationOut:
        started = time.perf_counter()
        answer = await _recommend(body)
        elapsed = time.perf_counter() - started
        metrics.observe(
            config.model,
            answer.source,
            elapsed,
            cold_start=answer.cold_start,
            filter_skipped=answer.filter_skipped,
        )
        response.headers["Server-Timing"] = f"app;dur={elapsed * 1e3:.2f}"
        return answer

    async def _recommend(body: RecommendationIn) -> RecommendationOut:
        started = time.perf_counter()
        recommendation_id = uuid.uuid4().hex
        request = RecommendationRequest(
            user_id=body.visitor(),
            device=body.device or "",
            timestamp=body.timestamp or 0,
            num_items=body.num_items,
            exclude_item_ids=tuple(body.exclude_item_ids),
        )
        arm = router.arm(request.user_id, recommendation_id) if router is not None else None
        if arm is not None and arm.version is None:  # the popularity arm: its answer, not a failure
            popular = await run_in_threadpool(fallback.recommend, body)
            out = popular.model_copy(update={"fallback": False})
        else:
            out = await _from_triton(body, request, arm.ensemble if arm else None)
        if router is None or arm is None:
            return out.tagged(recommendation_id, None, None)
        router.served(recommendation_id, arm, request.user_id, out.item_ids, started, out.fallback)
        router.shadow(request, recommendation_id, out.item_ids)
        return out.tagged(recommendation_id, router.experiment.name, arm)

    async def _from_triton(
        body: RecommendationIn, request: RecommendationRequest, model: str | None
    ) -> RecommendationOut:
        try:
            answer = await triton.recommend(request, model=model)
        except TritonUnavailableError as exc:
            log.warning("popularity fallback (%s): %s", metrics.fell_back(model or config.model, exc), exc)
            return await run_in_threadpool(fallback.recommend, body)  # Valkey: blocking client
        return RecommendationOut(
            item_ids=answer.item_ids,
            scores=answer.scores,
            cold_start=answer.cold_start,
            filter_skipped=answer.filter_skipped,
            fallback=False,
            source="triton",
        )

    @app.get("/v1/items", response_model=ItemsOut, responses={404: {"description": "no catalog configured"}})
    def items(
        ids: Annotated[
            list[ItemId], Query(min_length=1, max_length=MAX_ITEMS, description="repeat: ids=a&ids=b")
        ],
    ) -> ItemsOut:
        """Names, categories, prices and image URLs of catalog items (for the demo page)."""
        known = need_catalog().items
        return ItemsOut(
            items=[known[i] for i in ids if i in known], unknown=[i for i in ids if i not in known]
        )

    @app.get("/v1/items/{item_id}/image", response_class=FileResponse, responses={404: {}})
    def item_image(item_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]) -> FileResponse:
        """The dataset's generated picture of an item (images/<id>.png); 404 when it has none."""
        path = need_catalog().image_path(item_id)
        if path is None:
            raise HTTPException(404, f"no image for item {item_id!r}")
        return FileResponse(path, media_type="image/png")

    @app.get("/v1/demo/visitors", response_model=DemoVisitors, responses={404: {}})
    def demo_visitors() -> DemoVisitors:
        """Users with the most history in the catalog's dataset, plus fresh anonymous and new-user ids."""
        anonymous, new_user = fresh_visitor_ids()
        return DemoVisitors(registered=top_users(), anonymous_id=anonymous, new_user_id=new_user)

    @app.get("/v1/demo/visitors/{visitor}", response_model=VisitorStateOut, responses={404: {}})
    def visitor_state(visitor: Annotated[str, StringConstraints(pattern=ID_PATTERN)]) -> VisitorStateOut:
        """The visitor's top category and recent items as the homepage graph reads them.

        Demo only, like every /v1/demo route: it shows anyone's online state, so it exists only
        where a catalog is configured (local mode, a demo deployment), not on a public API.
        """
        need_catalog()
        record = lookup_user(fallback.client, visitor, RECENT_SHOWN)
        return VisitorStateOut(
            visitor=visitor,
            top_category=record.top_category,
            recent_items=record.recent_items,
            store_skipped=record.store_skipped,
        )

    @app.get("/v1/demo/experiment", response_model=ExperimentView, responses={404: {}})
    def demo_experiment() -> ExperimentView:
        """The running experiment's arms with their live counts and rates (no experiment: no arms).

        Counts are what the operator's status reads (`exp:<experiment>:<arm>`), so the page and
        `status.experiment` agree; homepages reach Valkey within the log's flush interval.
        """
        need_catalog()
        return read_view(config.experiment, fallback.client)

    @app.get("/v1/demo/report", response_model=ReportOut, responses={404: {}})
    def demo_report() -> ReportOut:
        """The serving version's evaluation report: the model against popularity and the oracle.

        200 with `available: false` when none is configured or readable: the page hides its chart
        rather than logging a failed request.
        """
        need_catalog()
        return read_report(config.report)

    @app.post(
        "/v1/demo/events",
        summary="Forward an event (or batch) to the event service",
        responses={
            404: {"description": "no event service configured"},
            413: {"description": f"body over {MAX_EVENT_BODY} bytes"},
            502: {"description": "event service unreachable"},
        },
    )
    async def demo_events(request: Request) -> Response:
        """The event service's contract (POST /events); its answer is passed through unchanged."""
        if not config.events_url:
            return JSONResponse({"detail": "no event service configured (ApiConfig.events_url)"}, 404)
        raw = await request.body()
        if len(raw) > MAX_EVENT_BODY:
            return JSONResponse({"detail": f"body over {MAX_EVENT_BODY} bytes"}, 413)
        return await run_in_threadpool(
            forward_event, config.events_url, raw, config.events_timeout_s, events_token
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus_metrics() -> Response:
        """Prometheus text format; open like /healthz (http_guard.OPEN_PATHS)."""
        content, media_type = metrics.exposition()
        return Response(content, media_type=media_type)

    @app.get("/readyz")
    async def readyz() -> dict[str, bool | None]:
        """Ready whenever the process is up: the fallback answers without Triton.

        Never waits on Triton (on the event loop, no call): a probe that waits on a dependency
        times out when that dependency hangs, and then every API pod leaves the Service exactly
        when the fallback should be answering. `triton_ready` is the last call's outcome (None
        before the first).
        """
        return {"ready": True, "triton_ready": triton.last_answered}

    @app.get("/", include_in_schema=False, response_model=None)
    def page() -> FileResponse | JSONResponse:
        if catalog is None:
            return JSONResponse(
                {"detail": "the demo page needs a catalog (ApiConfig.catalog); see /docs"}, 404
            )
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    app.add_middleware(
        HttpGuard, config=config.guard, token=token, buckets=TokenBuckets(config.guard.rate_limit, clock)
    )
    app.add_middleware(ResponseCounter, metrics=metrics)  # added last: outermost, sees the guard's refusals
    return app
