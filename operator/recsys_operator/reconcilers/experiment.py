"""The experiment decision, pure: arms resolved to versions, per-arm numbers, and when to stop.

The rule (docs/decisions/0025-experiment-decision-rule.md): Beta-Binomial posteriors of each
live arm's homepage-level goal rate (uniform prior); an arm wins when its posterior
probability of being the best reaches `confidence`, looked at only once every live arm has
`minHomepages` homepages. Guardrails (p99 latency, error rate) disqualify an arm whatever
its rate; when one arm is left it wins. After `maxDurationHours` without a winner the first
arm stays (Inconclusive). A decision, once taken, holds until the experiment is renamed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np

from recsys_operator.api.recommender_system import ArmStatus, ExperimentStatus, ModelStatus
from recsys_workloads.contracts.experiment import (
    LATENCY_BUCKETS_MS,
    WEIGHT_TOTAL,
    ArmCounters,
    ExperimentSpec,
    ResolvedArm,
    ResolvedExperiment,
)
from recsys_workloads.contracts.serving import ENSEMBLE_OF, POPULAR_ENSEMBLE, Graph, pinned_ensemble

DRAWS = 20_000  # Monte Carlo draws per decision: P(best) within about +-0.003 near 0.95


def known_versions(model: ModelStatus) -> set[int]:
    """Versions on the model volume an arm may pin: current, previous (rollback) and latest trained."""
    return {v for v in (model.current_version, model.previous_version, model.latest_version) if v is not None}


def resolve(
    spec: ExperimentSpec, model: ModelStatus, graph: Graph, decided: ExperimentStatus | None = None
) -> tuple[ResolvedExperiment | None, list[str]]:
    """The arms as the API serves them, or the messages of arms that cannot be served.

    After a decision with `promote: Auto`, only the winner remains (all traffic, shadow gone).
    """
    problems, arms = [], []
    known = known_versions(model)
    for i, arm in enumerate(spec.arms):
        where = f"spec.experiment.arms[{i}].version"
        if arm.version == "popular":
            version, ensemble = None, POPULAR_ENSEMBLE
        elif arm.version == "latest":
            if model.current_version is None:
                problems.append(f"{where}: latest: no model version serves yet")
                continue
            version, ensemble = model.current_version, ENSEMBLE_OF[graph]
        else:
            version = arm.version
            if version not in known:
                listed = ", ".join(str(v) for v in sorted(known)) or "none yet"
                problems.append(
                    f"{where}: version {version} is not on the model volume (known: {listed}; "
                    "spec.serving.rollout.keepVersions keeps the newest)"
                )
                continue
            ensemble = (
                ENSEMBLE_OF[graph] if version == model.current_version else pinned_ensemble(graph, version)
            )
        arms.append(
            ResolvedArm(
                name=arm.name, version=version, weight=arm.weight, shadow=arm.shadow, ensemble=ensemble
            )
        )
    if problems:
        return None, problems
    if spec.promote == "Auto" and decided is not None and decided.winner is not None:
        winner = next(a for a in arms if a.name == decided.winner)
        arms = [winner.model_copy(update={"weight": WEIGHT_TOTAL})]
    return ResolvedExperiment(name=spec.name, arms=arms, attribution_window_s=spec.attribution_window_s), []


def p99_ms(counters: ArmCounters) -> float | None:
    """Upper edge of the bucket holding the 99th percentile; inf beyond the last edge; None: no homepage."""
    if counters.homepages == 0:
        return None
    need, seen = 0.99 * counters.homepages, 0
    for edge in LATENCY_BUCKETS_MS:
        seen += counters.latency_buckets.get(edge, 0)
        if seen >= need:
            return float(edge)
    return math.inf


def probability_best(rates: Sequence[tuple[int, int]], seed: str) -> list[float]:
    """P(arm i's rate is the highest) under Beta(1 + s, 1 + n - s) posteriors (Monte Carlo).

    Seeded by `seed` (the experiment and its counts): the same counts give the same answer on
    every reconcile, so the status does not flicker.
    """
    rng = np.random.default_rng(int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big"))
    draws = np.stack([rng.beta(1 + s, 1 + max(n - s, 0), DRAWS) for s, n in rates])
    best = draws.argmax(axis=0)
    return [float(np.mean(best == i)) for i in range(len(rates))]


def arm_status(arm: ResolvedArm, counters: ArmCounters, spec: ExperimentSpec) -> ArmStatus:
    n = counters.homepages
    low, high = counters.interval(spec.goal) or (None, None)
    p99 = p99_ms(counters)
    errors = counters.error_rate
    guard = spec.guardrails
    disqualified = None
    if n >= guard.min_homepages and not arm.shadow:
        if guard.latency_p99_ms is not None and p99 is not None and p99 > guard.latency_p99_ms:
            shown = f"> {LATENCY_BUCKETS_MS[-1]}" if math.isinf(p99) else f"{p99:g}"
            disqualified = f"latency p99 {shown} ms over guardrails.latencyP99Ms {guard.latency_p99_ms:g}"
        elif guard.error_rate is not None and errors is not None and errors > guard.error_rate:
            disqualified = f"error rate {errors:.4f} over guardrails.errorRate {guard.error_rate:g}"
    return ArmStatus(
        name=arm.name,
        version=arm.version,
        weight=arm.weight,
        shadow=arm.shadow,
        homepages=n,
        goal_homepages=counters.goal_homepages.get(spec.goal, 0),
        attributed=dict(counters.goal_homepages),
        goal_rate=counters.rate(spec.goal),
        goal_rate_low=low,
        goal_rate_high=high,
        click_rate=counters.rate("click"),
        add_to_cart_rate=counters.rate("addToCart"),
        purchase_rate=counters.rate("purchase"),
        latency_p99_ms=None if p99 is None or math.isinf(p99) else p99,
        error_rate=errors,
        overlap=counters.overlap if arm.shadow else None,
        disqualified=disqualified,
    )


def summary(arms: Sequence[ArmStatus]) -> str:
    """The `kubectl get -o wide` column: each arm's rate, interval and P(best)."""
    parts = []
    for a in arms:
        version = "popular" if a.version is None else f"v{a.version}"
        if a.shadow:
            overlap = "-" if a.overlap is None else f"{a.overlap:.2f}"
            parts.append(f"{a.name}({version},shadow) n={a.homepages} overlap={overlap}")
            continue
        rate = (
            "-"
            if a.goal_rate is None
            else f"{a.goal_rate:.1%} [{a.goal_rate_low:.1%},{a.goal_rate_high:.1%}]"
        )
        best = "" if a.probability_best is None else f" P(best)={a.probability_best:.2f}"
        parts.append(f"{a.name}({version}) n={a.homepages} {rate}{best}")
    return "; ".join(parts)


def evaluate(
    spec: ExperimentSpec,
    experiment: ResolvedExperiment,
    counters: Mapping[str, ArmCounters],
    previous: ExperimentStatus | None,
    now: dt.datetime,
) -> ExperimentStatus:
    """Numbers for every arm and the decision (kept from `previous` once taken)."""
    same = previous is not None and previous.name == spec.name
    started = previous.started_at if same and previous is not None and previous.started_at else now
    arms = [arm_status(a, counters.get(a.name, ArmCounters()), spec) for a in experiment.arms]
    live = [a for a in arms if not a.shadow]
    contenders = [a for a in live if a.disqualified is None]
    enough = all(a.homepages >= spec.guardrails.min_homepages for a in live)
    if enough and len(contenders) > 1:
        chances = probability_best(
            [(a.goal_homepages, a.homepages) for a in contenders],
            f"{spec.name}:" + ",".join(f"{a.goal_homepages}/{a.homepages}" for a in contenders),
        )
        by_name = dict(zip((a.name for a in contenders), chances, strict=True))
        arms = [a.model_copy(update={"probability_best": by_name.get(a.name)}) for a in arms]
    status = ExperimentStatus(
        name=spec.name, goal=spec.goal, started_at=started, arms=arms, summary=summary(arms)
    )
    if same and previous is not None and previous.phase in ("Concluded", "Inconclusive"):
        return status.model_copy(
            update={k: getattr(previous, k) for k in ("phase", "decided_at", "winner", "reason", "message")}
        )
    return status.model_copy(update=_decision(spec, [a for a in arms if not a.shadow], enough, started, now))


def _decision(
    spec: ExperimentSpec, live: Sequence[ArmStatus], enough: bool, started: dt.datetime, now: dt.datetime
) -> dict[str, object]:
    contenders = [a for a in live if a.disqualified is None]
    goal = spec.goal
    if enough and len(contenders) == 1 and len(live) > 1:
        winner = contenders[0]
        breached = "; ".join(f"{a.name}: {a.disqualified}" for a in live if a.disqualified)
        return _decided(
            "GuardrailBreached",
            winner.name,
            f"{winner.name} is the only arm within the guardrails ({breached})",
            now,
        )
    if enough and contenders:
        best = max(contenders, key=lambda a: a.probability_best or 0.0)
        if best.probability_best is not None and best.probability_best >= spec.confidence:
            message = (
                f"{best.name} has the highest {goal} rate with probability {best.probability_best:.3f} "
                f">= confidence {spec.confidence:g} ({summary(live)})"
            )
            return _decided("ProbabilityBest", best.name, message, now)
    if now - started >= dt.timedelta(hours=spec.guardrails.max_duration_hours):
        first = live[0].name
        return {
            "phase": "Inconclusive",
            "decided_at": now,
            "winner": first,
            "reason": "MaxDurationReached",
            "message": f"no arm reached confidence {spec.confidence:g} in {spec.guardrails.max_duration_hours:g} h: "
            f"the first arm, {first}, stays",
        }
    if not enough:
        short = [f"{a.name} {a.homepages}" for a in live if a.homepages < spec.guardrails.min_homepages]
        return {
            "phase": "Running",
            "reason": "CollectingHomepages",
            "message": f"every live arm needs {spec.guardrails.min_homepages} homepages before a decision: "
            f"{', '.join(short)}",
        }
    if not contenders:
        return {"phase": "Running", "reason": "AllArmsBreachGuardrails", "message": summary(live)}
    return {
        "phase": "Running",
        "reason": "NotYetConfident",
        "message": f"no arm reaches confidence {spec.confidence:g} yet ({summary(live)})",
    }


def _decided(reason: str, winner: str, message: str, now: dt.datetime) -> dict[str, object]:
    return {"phase": "Concluded", "decided_at": now, "winner": winner, "reason": reason, "message": message}
