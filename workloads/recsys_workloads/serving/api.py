"""Recommendation API (FastAPI) in front of Triton's homepage ensemble over gRPC.

A valid request always gets a 200: if Triton is down, slow (`timeout_s`) or fails, the
answer is popularity minus the visitor's seen items, flagged `fallback: true`; if Valkey
is down too, the last popular list seen (possibly empty), flagged as well. Invalid
requests get a 422 that names the field.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys_workloads.online.client import connect
from recsys_workloads.online.popularity import Popularity
from recsys_workloads.online.seen_filter import SeenFilter, make_seen_filter
from recsys_workloads.serving.popular import recommend_popular
from recsys_workloads.serving.recommender import RecommendationRequest
from recsys_workloads.serving.triton_client import TritonRecommender, TritonUnavailableError
from recsys_workloads.vocab import ANONYMOUS_PREFIX

log = logging.getLogger(__name__)
ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
MAX_ITEMS = 100


class ApiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    triton_url: str = Field(description="Triton gRPC address host:port")
    model: Literal["homepage", "homepage_fused"] = Field("homepage", description="ensemble to call")
    timeout_s: float = Field(0.5, gt=0, le=30, description="deadline of one Triton call")
    redis_url: str = Field("", description="Valkey for the popularity fallback ('' disables it)")


class RecommendationIn(BaseModel):
    """A homepage request: a registered user, an anonymous session, or neither."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, pattern=ID_PATTERN, description="registered user id")
    session_id: str | None = Field(None, pattern=ID_PATTERN, description="anonymous session id")
    device: str | None = Field(None, max_length=32, description="web, ios, android (others: unknown)")
    timestamp: int | None = Field(None, ge=0, le=2**40, description="Unix seconds; default now")
    num_items: int = Field(10, ge=1, le=MAX_ITEMS, description="items to return")
    exclude_item_ids: list[str] = Field(
        default_factory=list, max_length=1000, description="never return these"
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


def create_app(config: ApiConfig) -> FastAPI:
    """The API; OpenAPI at /openapi.json, docs at /docs."""
    app = FastAPI(title="recsys homepage recommendations", version="1")
    triton = TritonRecommender(config.triton_url, config.model, config.timeout_s)
    fallback = _Fallback(config.redis_url)

    @app.post("/v1/recommendations", response_model=RecommendationOut)
    def recommend(body: RecommendationIn) -> RecommendationOut:
        request = RecommendationRequest(
            user_id=body.visitor(),
            device=body.device or "",
            timestamp=body.timestamp or 0,
            num_items=body.num_items,
            exclude_item_ids=tuple(body.exclude_item_ids),
        )
        try:
            answer = triton.recommend(request)
        except TritonUnavailableError as exc:
            log.warning("popularity fallback: %s", exc)
            return fallback.recommend(body)
        return RecommendationOut(
            item_ids=answer.item_ids,
            scores=answer.scores,
            cold_start=answer.cold_start,
            filter_skipped=answer.filter_skipped,
            fallback=False,
            source="triton",
        )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict[str, bool]:
        """Ready whenever the process is up (the fallback answers); reports whether Triton is."""
        try:
            ready = bool(triton.client.is_model_ready(config.model, client_timeout=config.timeout_s))
        except Exception:
            ready = False
        return {"ready": True, "triton_ready": ready}

    return app
