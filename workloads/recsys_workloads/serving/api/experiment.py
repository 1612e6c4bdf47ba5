"""The API's side of an online experiment: pick the visitor's arm, call its ensemble, log the homepage.

The shadow arm (if any) runs the same request against its own ensemble in a task the response
does not wait for; its answer is only compared with what was shown (`overlap`) and counted.
`read_view` reads the arms' counters back for the demo page, with the status's arithmetic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence

import redis
from pydantic import BaseModel, Field

from recsys_workloads.contracts.experiment import (
    GOALS,
    ArmCounters,
    Goal,
    ResolvedArm,
    ResolvedExperiment,
)
from recsys_workloads.contracts.keys import arm_counters_key
from recsys_workloads.experiments.assignment import assign
from recsys_workloads.experiments.homepage_log import FLUSH_INTERVAL_S, HomepageLog, ServedHomepage
from recsys_workloads.serving.api.metrics import ApiMetrics
from recsys_workloads.serving.recommender import RecommendationRequest
from recsys_workloads.serving.triton.client import AsyncTritonRecommender, TritonUnavailableError

log = logging.getLogger(__name__)


class GoalRate(BaseModel):
    homepages: int = Field(description="homepages with at least one attributed event of the goal")
    events: int = Field(description="every attributed event of the goal")
    rate: float | None = Field(description="homepages / the arm's homepages (None before any)")
    low: float | None = Field(description="Wilson 95 % interval, as in status.experiment")
    high: float | None


class ArmView(BaseModel):
    """One arm with its live counters, computed as the operator's status computes them."""

    name: str
    version: int | None = Field(description="None: the API's popularity path")
    weight: int
    shadow: bool
    homepages: int = Field(description="homepages served (shadow: computed)")
    errors: int = Field(description="of those, answered by the popularity fallback")
    goals: dict[Goal, GoalRate] = Field(description="click, addToCart, purchase (empty for the shadow arm)")
    overlap: float | None = Field(description="shadow: mean share of its items also shown")


class ExperimentView(BaseModel):
    experiment: str | None = Field(description="None: no experiment runs")
    attribution_window_s: int | None
    arms: list[ArmView]
    store_skipped: bool = Field(description="Valkey unreachable: the counts are missing, not zero")


def arm_view(arm: ResolvedArm, counters: ArmCounters) -> ArmView:
    goals: dict[Goal, GoalRate] = {}
    for goal in () if arm.shadow else GOALS:  # never shown: nothing to attribute
        low, high = counters.interval(goal) or (None, None)
        goals[goal] = GoalRate(
            homepages=counters.goal_homepages.get(goal, 0),
            events=counters.goal_events.get(goal, 0),
            rate=counters.rate(goal),
            low=low,
            high=high,
        )
    return ArmView(
        name=arm.name,
        version=arm.version,
        weight=arm.weight,
        shadow=arm.shadow,
        homepages=counters.homepages,
        errors=counters.errors,
        goals=goals,
        overlap=counters.overlap if arm.shadow else None,
    )


def read_view(experiment: ResolvedExperiment | None, client: redis.Redis | None) -> ExperimentView:
    """The experiment's arms with their counters from Valkey (one pipelined HGETALL per arm)."""
    if experiment is None:
        return ExperimentView(experiment=None, attribution_window_s=None, arms=[], store_skipped=False)
    raw: list[dict[bytes | str, bytes | str]] = []
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            for arm in experiment.arms:
                pipe.hgetall(arm_counters_key(experiment.name, arm.name))
            raw = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("experiment %s: counters unreadable: %s", experiment.name, exc)
    skipped = len(raw) != len(experiment.arms)
    counters = [ArmCounters.from_hash(found) for found in raw]
    if skipped:
        counters = [ArmCounters() for _ in experiment.arms]
    return ExperimentView(
        experiment=experiment.name,
        attribution_window_s=experiment.attribution_window_s,
        arms=[arm_view(a, c) for a, c in zip(experiment.arms, counters, strict=True)],
        store_skipped=skipped,
    )


def overlap(shown: Sequence[str], other: Sequence[str]) -> float:
    """Share of the shown items the other answer also has (1.0 when nothing was shown)."""
    return len(set(shown) & set(other)) / len(shown) if shown else 1.0


class ExperimentRouter:
    def __init__(
        self,
        experiment: ResolvedExperiment,
        client: redis.Redis,
        triton: AsyncTritonRecommender,
        metrics: ApiMetrics,
    ) -> None:
        self.experiment, self.metrics = experiment, metrics
        self.log = HomepageLog(client, experiment)
        self.triton = triton
        self._shadow_tasks: set[asyncio.Task[None]] = set()

    def arm(self, visitor: str, recommendation_id: str) -> ResolvedArm:
        return assign(self.experiment, visitor or recommendation_id)

    def served(
        self,
        recommendation_id: str,
        arm: ResolvedArm,
        visitor: str,
        item_ids: Sequence[str],
        started: float,
        failed: bool,
    ) -> None:
        latency = time.perf_counter() - started
        self.metrics.observe_arm(self.experiment.name, arm.name, latency, error=failed)
        self.log.add(
            ServedHomepage(recommendation_id, arm, visitor, tuple(item_ids), time.time(), latency, failed)
        )

    def shadow(self, request: RecommendationRequest, recommendation_id: str, shown: Sequence[str]) -> None:
        """Start the shadow arm's call for this request (nothing when there is no shadow arm)."""
        arm = self.experiment.shadow_arm
        if arm is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._shadow(arm, request, recommendation_id, tuple(shown))
        )
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(
        self, arm: ResolvedArm, request: RecommendationRequest, recommendation_id: str, shown: Sequence[str]
    ) -> None:
        started = time.perf_counter()
        try:
            answer = await self.triton.recommend(request, model=arm.ensemble, track=False)
        except TritonUnavailableError as exc:
            log.debug("shadow arm %s failed: %s", arm.name, exc)
            items: Sequence[str] = ()
            failed = True
        else:
            items, failed = answer.item_ids, False
        latency = time.perf_counter() - started
        self.metrics.observe_arm(self.experiment.name, arm.name, latency, error=failed)
        self.log.add(
            ServedHomepage(
                recommendation_id,
                arm,
                request.user_id,
                tuple(items),
                time.time(),
                latency,
                failed,
                overlap=None if failed else overlap(shown, items),
            )
        )

    @contextlib.asynccontextmanager
    async def flushing(self) -> AsyncIterator[None]:
        """Flush the homepage log every FLUSH_INTERVAL_S (in a worker thread: the client blocks) while open."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL_S)
                await asyncio.to_thread(self.log.flush)

        task = asyncio.get_running_loop().create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self._shadow_tasks:
                await asyncio.wait(self._shadow_tasks, timeout=1.0)
            await asyncio.to_thread(self.log.flush)
