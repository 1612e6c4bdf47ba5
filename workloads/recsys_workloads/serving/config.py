"""Serving knobs that flow from `RecommenderSystem.spec.serving` into the steps' parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recsys_workloads.spec import SpecModel

Graph = Literal["ensemble", "fused"]


class ServingGraphConfig(SpecModel):
    """Which Triton graph serves the homepage and how the request path is tuned."""

    graph: Graph = Field(
        "ensemble", description="ensemble: the 14 one-function steps; fused: the same functions in 3 steps"
    )
    retrieval_top_k: int = Field(300, ge=1, le=10_000, description="candidates FAISS retrieves per request")
    ranking_top_k: int = Field(100, ge=1, le=10_000, description="ranked candidates the reranker draws from")
    category_cap: int = Field(
        0, ge=0, le=1_000, description="most items per top-level category in one answer (0: no cap)"
    )
    temperature: float = Field(
        0.0, ge=0.0, le=1e6, description="softmax sampling temperature over ranking scores (0: greedy)"
    )
