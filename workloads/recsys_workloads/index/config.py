"""Retrieval index configuration (part of `RecommenderSystem.spec.retrieval`)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from recsys_workloads.spec import SpecModel

MAX_TOP_K: Final = 10_000  # candidates per request the serving steps are sized for


class IndexConfig(SpecModel):
    """FAISS retrieval of candidates for the query embedding."""

    factory: str = Field(
        "Flat",
        description="faiss.index_factory string: Flat (exact), IVF1024,Flat, HNSW32, IVF4096,PQ32 ...",
    )
    metric: Literal["inner_product", "l2"] = Field(
        "inner_product", description="similarity of the two towers"
    )
    top_k: int = Field(300, ge=1, le=MAX_TOP_K, description="candidates retrieved per request")
    nprobe: int = Field(16, ge=1, description="IVF lists visited per query")
    ef_search: int = Field(128, ge=1, description="HNSW search breadth")
