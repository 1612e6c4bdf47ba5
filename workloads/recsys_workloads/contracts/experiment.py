"""Online experiments: the spec's arms, what the API serves per arm, and where the counts live.

`spec.experiment` names arms by model version (`latest`: whatever Triton serves as current;
`popular`: the popularity path, a deliberately weak baseline). The operator resolves them to
`ResolvedExperiment` (concrete versions, each arm's Triton ensemble) and hands that to the API
in its config (`ApiConfig.experiment`) and the pinned versions to Triton; the API assigns visitors, tags every homepage with a
recommendation id, and logs it; the event service attributes later events to the arm; the
operator reads the per-arm counts back and decides (`experiments.decision`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Final, Literal, Self

from pydantic import Field, WithJsonSchema, model_validator

from recsys_workloads.contracts.spec import SpecModel

ARM_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
EXPERIMENT_NAME_PATTERN: Final = ARM_NAME_PATTERN
MAX_ARMS: Final = 8
WEIGHT_TOTAL: Final = 100
BUCKETS: Final = 10_000  # assignment resolution: a weight is WEIGHT_TOTAL-ths, so 100 buckets each
# Kubernetes' structural schemas have no int-or-enum union: the CRD takes an int or a string and
# pydantic (the operator's parse, reported as Stalled) refuses anything but >= 1, latest, popular.
ArmVersion = Annotated[
    int | Literal["latest", "popular"],
    WithJsonSchema(
        {"x-kubernetes-int-or-string": True, "description": "a version number, latest or popular"}
    ),
]
PromoteMode = Literal["Auto", "Manual"]
Goal = Literal["click", "addToCart", "purchase"]
# Event types of the event service that count for each goal (an attributed event on an item of
# the homepage it came from).
GOAL_EVENT_TYPE: Final[dict[Goal, str]] = {"click": "View", "addToCart": "AddToCart", "purchase": "Purchase"}


class GuardrailsSpec(SpecModel):
    """When the decision may be taken, and what disqualifies an arm whatever its goal rate."""

    min_homepages: int = Field(
        1_000,
        ge=10,
        le=100_000_000,
        description="homepages every live arm must have served before a decision",
    )
    max_duration_hours: float = Field(
        168.0,
        gt=0,
        le=24 * 90,
        description="after this long without a winner the experiment ends Inconclusive and the first arm stays",
    )
    latency_p99_ms: float | None = Field(
        None, gt=0, le=60_000, description="an arm whose p99 homepage latency exceeds this loses"
    )
    error_rate: float | None = Field(
        None,
        ge=0,
        le=1,
        description="an arm whose share of failed homepages (popularity fallback) exceeds this loses",
    )


class ArmSpec(SpecModel):
    name: str = Field(max_length=32, pattern=ARM_NAME_PATTERN, description="arm name (lowercase DNS label)")
    version: ArmVersion = Field(
        description="published model version, 'latest' (the served version) or 'popular' (the popularity path)"
    )
    weight: int = Field(
        0, ge=0, le=WEIGHT_TOTAL, description="percent of visitors shown this arm; live arms sum to 100"
    )
    shadow: bool = Field(
        False, description="computed and logged for every request of the live arms, never shown (weight 0)"
    )

    @model_validator(mode="after")
    def _version(self) -> Self:
        if isinstance(self.version, int) and self.version < 1:
            raise ValueError(f"arm {self.name!r}: version must be >= 1, 'latest' or 'popular'")
        if self.shadow and self.weight:
            raise ValueError(f"arm {self.name!r}: a shadow arm is never shown, so its weight must be 0")
        if self.shadow and self.version == "popular":
            raise ValueError(
                f"arm {self.name!r}: a shadow arm runs a model version; popular needs no shadowing"
            )
        return self


class ExperimentSpec(SpecModel):
    """Two or more arms on live traffic, sticky per visitor, decided on attributed events."""

    name: str = Field(
        max_length=40,
        pattern=EXPERIMENT_NAME_PATTERN,
        description="experiment name: part of the assignment hash (a new name reshuffles visitors)",
    )
    arms: list[ArmSpec] = Field(
        min_length=2,
        max_length=MAX_ARMS,
        description="the first is the control: it stays when the experiment ends without a winner",
    )
    goal: Goal = Field("click", description="the rate the decision compares: click, addToCart or purchase")
    promote: PromoteMode = Field(
        "Manual",
        description="Auto: serve the winner (or roll back a loser) when decided; Manual: report only",
    )
    confidence: float = Field(
        0.95, ge=0.5, lt=1, description="posterior probability an arm must reach to be the winner"
    )
    attribution_window_s: int = Field(
        1_800,
        ge=60,
        le=7 * 86_400,
        description="events later than this after the homepage are not attributed",
    )
    guardrails: GuardrailsSpec = Field(default_factory=GuardrailsSpec)

    @model_validator(mode="after")
    def _arms(self) -> Self:
        names = [a.name for a in self.arms]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"experiment.arms: names {twice} appear more than once")
        shadows = [a.name for a in self.arms if a.shadow]
        if len(shadows) > 1:
            raise ValueError(f"experiment.arms: at most one shadow arm, got {shadows}")
        live = [a for a in self.arms if not a.shadow]
        total = sum(a.weight for a in live)
        if total != WEIGHT_TOTAL:
            weights = {a.name: a.weight for a in live}
            raise ValueError(
                f"experiment.arms: live arm weights must sum to {WEIGHT_TOTAL}, got {total} {weights}"
            )
        if any(a.weight == 0 for a in live):
            raise ValueError(
                "experiment.arms: a live arm with weight 0 gets no traffic (make it shadow or remove it)"
            )
        return self

    @property
    def live_arms(self) -> list[ArmSpec]:
        return [a for a in self.arms if not a.shadow]

    @property
    def shadow_arm(self) -> ArmSpec | None:
        return next((a for a in self.arms if a.shadow), None)


class ResolvedArm(SpecModel):
    """An arm as the API serves it: a concrete version and its Triton ensemble, or (version None) the
    API's own popularity path, seen and excluded items removed (`ensemble` is then informational)."""

    name: str
    version: int | None
    weight: int
    shadow: bool = False
    ensemble: str


class ResolvedExperiment(SpecModel):
    """What the operator hands the API: the arms with versions resolved, or one winner after a decision."""

    name: str = Field(max_length=40, pattern=EXPERIMENT_NAME_PATTERN)
    arms: list[ResolvedArm] = Field(min_length=1, max_length=MAX_ARMS)
    attribution_window_s: int = Field(ge=60, le=7 * 86_400)

    @model_validator(mode="after")
    def _weights(self) -> Self:
        total = sum(a.weight for a in self.arms if not a.shadow)
        if total != WEIGHT_TOTAL:
            raise ValueError(f"live arm weights must sum to {WEIGHT_TOTAL}, got {total}")
        return self

    @property
    def live_arms(self) -> list[ResolvedArm]:
        return [a for a in self.arms if not a.shadow]

    @property
    def shadow_arm(self) -> ResolvedArm | None:
        return next((a for a in self.arms if a.shadow), None)

    def pinned_versions(self, current: int | None) -> list[int]:
        """Versions Triton must serve beside the current one for these arms."""
        return sorted({a.version for a in self.arms if a.version is not None and a.version != current})


# Upper edges (ms) of the per-arm latency buckets the API counts in Valkey; the operator reads
# the p99 guardrail off them (the bucket edge at or above the 99th percentile: conservative).
LATENCY_BUCKETS_MS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000)
GOALS: Final[tuple[Goal, ...]] = ("click", "addToCart", "purchase")


class CounterField:
    """Field names of the ``exp:<experiment>:<arm>`` hash (writers: API, event service; reader: operator)."""

    HOMEPAGES: Final = "homepages"  # homepages served by the arm (shadow: computed)
    ERRORS: Final = "errors"  # of those, answered by the popularity fallback (the arm failed)
    OVERLAP_MILLI: Final = "overlap_milli"  # shadow: sum of 1000 x share of items also in the live answer

    @staticmethod
    def goal_homepages(goal: Goal) -> str:
        """Homepages with at least one attributed `goal` event (the binomial the decision compares)."""
        return f"goal:{goal}"

    @staticmethod
    def goal_events(goal: Goal) -> str:
        """Every attributed `goal` event (several clicks on one homepage count several times)."""
        return f"events:{goal}"

    @staticmethod
    def latency_bucket(edge_ms: int) -> str:
        """Homepages answered within `edge_ms` (not cumulative: each falls in its first bucket)."""
        return f"lat:{edge_ms}"


class RecommendationField:
    """Field names of the ``rec:<recommendation id>`` hash (writer: API; reader: event service)."""

    EXPERIMENT: Final = "experiment"
    ARM: Final = "arm"
    VERSION: Final = "version"  # "" for the popularity path
    VISITOR: Final = "visitor"  # only this visitor's events are attributed to it
    ITEMS: Final = "items"  # the shown item ids, ITEM_SEPARATOR-joined
    SERVED_AT: Final = "served_at"  # Unix seconds

    @staticmethod
    def counted(goal: Goal) -> str:
        """Set once the homepage's first `goal` event was counted (HSETNX)."""
        return f"counted:{goal}"


ITEM_SEPARATOR: Final = " "  # item ids match an id pattern without spaces


class ArmCounters(SpecModel):
    """One arm's counters as read back from Valkey."""

    homepages: int = 0
    errors: int = 0
    overlap_milli: int = 0
    goal_homepages: dict[Goal, int] = Field(default_factory=dict)
    goal_events: dict[Goal, int] = Field(default_factory=dict)
    latency_buckets: dict[int, int] = Field(default_factory=dict, description="edge ms -> homepages")

    @classmethod
    def from_hash(
        cls, raw: Mapping[bytes, bytes] | Mapping[str, str] | Mapping[bytes | str, bytes | str]
    ) -> ArmCounters:
        """Parse an HGETALL answer, bytes or decoded (missing fields are 0; unknown ones are ignored)."""
        text = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}

        def count(name: str) -> int:
            try:
                return max(0, int(text.get(name, 0)))
            except ValueError:
                return 0

        return cls(
            homepages=count(CounterField.HOMEPAGES),
            errors=count(CounterField.ERRORS),
            overlap_milli=count(CounterField.OVERLAP_MILLI),
            goal_homepages={g: count(CounterField.goal_homepages(g)) for g in GOALS},
            goal_events={g: count(CounterField.goal_events(g)) for g in GOALS},
            latency_buckets={e: count(CounterField.latency_bucket(e)) for e in LATENCY_BUCKETS_MS},
        )

    def rate(self, goal: Goal) -> float | None:
        """Homepages with an attributed `goal` event / homepages (None before the first homepage)."""
        return self.goal_homepages.get(goal, 0) / self.homepages if self.homepages else None

    def interval(self, goal: Goal) -> tuple[float, float] | None:
        """The rate's 95 % Wilson interval (None before the first homepage)."""
        return wilson_interval(self.goal_homepages.get(goal, 0), self.homepages) if self.homepages else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.homepages if self.homepages else None

    @property
    def overlap(self) -> float | None:
        """A shadow arm's mean share of its items that were also shown."""
        return self.overlap_milli / 1000 / self.homepages if self.homepages else None


Z_95: Final = 1.959964


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (good at small n and rates near 0); the status
    and the demo page show the same interval."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
