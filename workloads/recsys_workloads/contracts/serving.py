"""Serving knobs that flow from `RecommenderSystem.spec.serving` into the steps' parameters."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from recsys_workloads.contracts.index import MAX_TOP_K
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.contracts.spec import SpecModel

__all__ = [
    "ENSEMBLE",
    "ENSEMBLE_OF",
    "FUSED_ENSEMBLE",
    "MAX_CATEGORY_CAP",
    "MAX_TEMPERATURE",
    "MAX_TOP_K",
    "PINNED_SEPARATOR",
    "POPULAR_ENSEMBLE",
    "Ensemble",
    "Graph",
    "ServingGraphConfig",
    "pinned_ensemble",
    "pinned_model",
    "pinned_version",
]

Graph = Literal["ensemble", "fused"]
# The Triton ensembles' names: the repository's folders, what the API calls, what Triton loads,
# and the key of `status.modelVersions` (always ENSEMBLE: one version serves either graph).
Ensemble = Literal["homepage", "homepage_fused"]
ENSEMBLE: Final = "homepage"
FUSED_ENSEMBLE: Final = "homepage_fused"
ENSEMBLE_OF: Final[dict[Graph, Ensemble]] = {"ensemble": ENSEMBLE, "fused": FUSED_ENSEMBLE}
POPULAR_ENSEMBLE: Final = "homepage_popular"  # served from Valkey alone, before any version exists
PINNED_SEPARATOR: Final = "__v"


def pinned_ensemble(graph: Graph, version: int) -> str:
    """The ensemble serving one pinned model version beside the current one (an experiment arm).

    Its version-bound step models carry the same suffix (`<model>__v<N>`); steps that read no
    version folder are shared with the current graph.
    """
    return pinned_model(ENSEMBLE_OF[graph], version)


def pinned_model(model: str, version: int) -> str:
    """A Triton model's copy bound to pinned `version` (the ensemble's and its steps' names)."""
    if version < 1:
        raise ValueError(f"model versions start at 1, got {version}")
    return f"{model}{PINNED_SEPARATOR}{version}"


def pinned_version(model: str) -> int | None:
    """The version a pinned model name is bound to; None for a model of the current graph.

    A live switch of the current version leaves the models it names alone.
    """
    base, separator, number = model.rpartition(PINNED_SEPARATOR)
    return int(number) if separator and base and number.isdigit() and int(number) >= 1 else None


# Bounds the request path can run; the spec's fields declare the same ones (so the API server
# refuses what serving would refuse later).
MAX_CATEGORY_CAP: Final = 1_000
MAX_TEMPERATURE: Final = 1e6


class ServingGraphConfig(SpecModel):
    """Which Triton graph serves the homepage and how the request path is tuned."""

    graph: Graph = Field(
        "ensemble", description="ensemble: the 14 one-function steps; fused: the same functions in 3 steps"
    )
    retrieval_top_k: int = Field(
        300, ge=1, le=MAX_TOP_K, description="candidates FAISS retrieves per request"
    )
    ranking_top_k: int = Field(
        100, ge=1, le=MAX_TOP_K, description="ranked candidates the reranker draws from"
    )
    category_cap: int = Field(
        0,
        ge=0,
        le=MAX_CATEGORY_CAP,
        description="most items per top-level category in one answer (0: no cap)",
    )
    temperature: float = Field(
        0.0,
        ge=0.0,
        le=MAX_TEMPERATURE,
        description="softmax sampling temperature over ranking scores (0: greedy)",
    )
    nprobe: int | None = Field(
        None, ge=1, description="spec.retrieval.nprobe at serving time (None: as the index was built)"
    )
    ef_search: int | None = Field(
        None, ge=1, description="spec.retrieval.efSearch at serving time (None: as the index was built)"
    )
    seen_filter: SeenFilterConfig = Field(
        default_factory=SeenFilterConfig,
        description="spec.filtering: the key layout the event service writes, so serving reads the same",
    )


class PodEnv:
    """The environment of the Triton pod's init container (`serving.triton.pod_repository`), set by the operator."""

    VERSION_DIR: Final = "RECSYS_MODEL_VERSION_DIR"  # the promoted version's folder; empty: none yet
    REDIS_URL: Final = "RECSYS_REDIS_URL"
    SERVING_GRAPH: Final = "RECSYS_SERVING_GRAPH"  # a ServingGraphConfig as JSON
    # Versions served beside the current one (experiment arms) as a JSON list of ints; their folders
    # are VERSION_DIR's siblings (`<model volume>/<N>`). Empty or unset: none.
    PINNED_VERSIONS: Final = "RECSYS_PINNED_VERSIONS"


POD_REPOSITORY_MODULE: Final = "recsys_workloads.serving.triton.pod_repository"
