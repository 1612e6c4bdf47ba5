"""The in-process path: the same 14 step functions, called directly, no Triton in between.

Used for train/serve and Triton parity tests and as the benchmark's baseline (what the
Triton hops add). `Recommendation` is also what the API returns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis

from recsys_workloads.contracts.serving import ServingGraphConfig
from recsys_workloads.serving.graph import STEPS, Tensors, encode, needs, run_steps, texts
from recsys_workloads.serving.resources import Resources


@dataclass(frozen=True)
class RecommendationRequest:
    user_id: str = ""
    device: str = ""
    timestamp: int = 0
    num_items: int = 10
    exclude_item_ids: Sequence[str] = ()


@dataclass(frozen=True)
class Recommendation:
    item_ids: list[str]
    scores: list[float]
    cold_start: bool = False
    filter_skipped: bool = False


def request_tensors(request: RecommendationRequest) -> Tensors:
    """The ensemble's input tensors (an empty exclusion list is sent as one empty id)."""
    return {
        "USER_ID": encode([request.user_id]),
        "DEVICE": encode([request.device]),
        "TIMESTAMP": np.array([request.timestamp], dtype=np.int64),
        "NUM_ITEMS": np.array([request.num_items], dtype=np.int32),
        "EXCLUDE_ITEM_IDS": encode(list(request.exclude_item_ids) or [""]),
    }


def response_from_tensors(out: dict[str, npt.NDArray[Any]]) -> Recommendation:
    return Recommendation(
        item_ids=texts(out["ITEM_IDS"]),
        scores=[float(s) for s in np.asarray(out["SCORES"]).reshape(-1).tolist()],
        cold_start=bool(np.asarray(out["COLD_START"]).reshape(-1)[0]),
        filter_skipped=bool(np.asarray(out["FILTER_SKIPPED"]).reshape(-1)[0]),
    )


class Recommender:
    """All 14 steps over one shared `Resources` (loaded once, warmed at construction)."""

    def __init__(
        self,
        version_dir: Path,
        redis_url: str = "",
        config: ServingGraphConfig | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        self.resources = Resources(version_dir, redis_url, config, client)
        self.steps = tuple(s.name for s in STEPS)
        self.resources.warm(needs(self.steps))

    def run(self, tensors: Tensors) -> Tensors:
        return run_steps(self.steps, self.resources, tensors)

    def recommend(self, request: RecommendationRequest) -> Recommendation:
        return response_from_tensors(self.run(request_tensors(request)))

    def timed(self, request: RecommendationRequest) -> dict[str, float]:
        """Milliseconds per step for one request (the profile of the in-process path)."""
        tensors = request_tensors(request)
        spent: dict[str, float] = {}
        for step in STEPS:
            start = time.perf_counter()
            tensors.update(step.fn(self.resources, tensors))
            spent[step.name] = (time.perf_counter() - start) * 1e3
        return spent
