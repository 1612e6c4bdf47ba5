"""The experiment decision: arms resolved to ensembles, per-arm numbers, when and whom to promote."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pytest

from recsys_operator.api.recommender_system import ExperimentStatus, ModelStatus
from recsys_operator.reconcilers import experiment as ex
from recsys_operator.reconcilers.recommender_system import reconcile, spec_problems
from recsys_workloads.contracts.experiment import ArmCounters, ExperimentSpec, wilson_interval
from recsys_workloads.contracts.serving import ENSEMBLE, FUSED_ENSEMBLE, POPULAR_ENSEMBLE

from .test_reconcile import RecordingCluster, _body, _condition

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
MODEL = ModelStatus(current_version=4, previous_version=3, latest_version=4)


def spec(**overrides: Any) -> ExperimentSpec:
    values: dict[str, Any] = {
        "name": "ranker-v4",
        "arms": [
            {"name": "model", "version": "latest", "weight": 50},
            {"name": "popular", "version": "popular", "weight": 50},
        ],
        "guardrails": {"minHomepages": 100},
    }
    values.update(overrides)
    return ExperimentSpec.model_validate(values)


def counters(homepages: int, clicks: int, **more: Any) -> ArmCounters:
    return ArmCounters(homepages=homepages, goal_homepages={"click": clicks}, **more)


def test_arms_resolve_to_the_current_pinned_and_popular_ensembles() -> None:
    s = spec(
        arms=[
            {"name": "new", "version": "latest", "weight": 40},
            {"name": "old", "version": 3, "weight": 40},
            {"name": "pop", "version": "popular", "weight": 20},
            {"name": "same", "version": 4, "shadow": True},
        ]
    )
    resolved, problems = ex.resolve(s, MODEL, "fused")
    assert problems == [] and resolved is not None
    assert [(a.name, a.version, a.ensemble) for a in resolved.arms] == [
        ("new", 4, FUSED_ENSEMBLE),
        ("old", 3, "homepage_fused__v3"),
        ("pop", None, POPULAR_ENSEMBLE),
        ("same", 4, FUSED_ENSEMBLE),
    ]
    assert resolved.pinned_versions(4) == [3]


def test_an_arm_on_a_version_not_on_the_volume_names_the_field_and_the_known_ones() -> None:
    s = spec(
        arms=[{"name": "a", "version": 7, "weight": 50}, {"name": "b", "version": "latest", "weight": 50}]
    )
    resolved, problems = ex.resolve(s, MODEL, "ensemble")
    assert resolved is None
    assert problems == [
        "spec.experiment.arms[0].version: version 7 is not on the model volume (known: 3, 4; "
        "spec.serving.rollout.keepVersions keeps the newest)"
    ]
    _, none_yet = ex.resolve(s, ModelStatus(), "ensemble")
    assert "spec.experiment.arms[1].version: latest: no model version serves yet" in none_yet


def test_after_an_auto_decision_only_the_winner_serves() -> None:
    decided = ExperimentStatus(name="ranker-v4", phase="Concluded", winner="model")
    resolved, _ = ex.resolve(spec(promote="Auto"), MODEL, "ensemble", decided)
    assert resolved is not None
    assert [(a.name, a.weight, a.ensemble) for a in resolved.arms] == [("model", 100, ENSEMBLE)]
    manual, _ = ex.resolve(spec(promote="Manual"), MODEL, "ensemble", decided)
    assert manual is not None and len(manual.arms) == 2


def test_wilson_intervals_cover_the_true_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    for p, n in ((0.02, 500), (0.1, 200), (0.5, 50)):
        hits = rng.binomial(n, p, 4_000)
        covered = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(int(h), n) for h in hits)])
        assert 0.92 <= covered <= 0.99, (p, n, covered)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 1000)
    assert low < 1e-12 and 0 < high < 0.01


def test_p99_is_the_bucket_edge_holding_the_99th_percentile() -> None:
    c = ArmCounters(homepages=100, latency_buckets={5: 98, 50: 1, 500: 1})
    assert ex.p99_ms(c) == 50.0
    assert ex.p99_ms(ArmCounters(homepages=100, latency_buckets={5: 90})) == float("inf")
    assert ex.p99_ms(ArmCounters()) is None


def test_probability_best_splits_ties_and_finds_clear_winners_repeatably() -> None:
    tie = ex.probability_best([(100, 1000), (100, 1000)], "s")
    assert abs(tie[0] - 0.5) < 0.02 and abs(sum(tie) - 1) < 1e-9
    clear = ex.probability_best([(150, 1000), (100, 1000)], "s")
    assert clear[0] > 0.99
    assert ex.probability_best([(150, 1000), (100, 1000)], "s") == clear


def evaluate(
    s: ExperimentSpec,
    arms: dict[str, ArmCounters],
    previous: ExperimentStatus | None = None,
    now: dt.datetime = T0,
) -> ExperimentStatus:
    resolved, _ = ex.resolve(s, MODEL, "ensemble")
    assert resolved is not None
    return ex.evaluate(s, resolved, arms, previous, now)


def test_no_decision_before_every_live_arm_has_the_minimum_sample() -> None:
    status = evaluate(spec(), {"model": counters(5000, 900), "popular": counters(99, 1)})
    assert (status.phase, status.reason, status.winner) == ("Running", "CollectingHomepages", None)
    assert "popular 99" in status.message


def test_a_clear_winner_concludes_and_the_decision_holds() -> None:
    status = evaluate(spec(), {"model": counters(1000, 200), "popular": counters(1000, 100)})
    assert (status.phase, status.reason, status.winner) == ("Concluded", "ProbabilityBest", "model")
    model = next(a for a in status.arms if a.name == "model")
    assert model.goal_rate == 0.2
    assert model.goal_rate_low is not None and model.goal_rate_high is not None
    assert model.goal_rate_low < 0.2 < model.goal_rate_high
    assert model.probability_best is not None and model.probability_best > 0.99
    later = evaluate(
        spec(),
        {"model": counters(9000, 200), "popular": counters(9000, 5000)},
        status,
        T0 + dt.timedelta(hours=1),
    )
    assert (later.phase, later.winner, later.decided_at) == ("Concluded", "model", status.decided_at)
    assert later.arms[1].homepages == 9000  # numbers still move


def test_close_arms_keep_running_until_max_duration_then_the_first_arm_stays() -> None:
    arms = {"model": counters(1000, 101), "popular": counters(1000, 100)}
    running = evaluate(spec(), arms)
    assert (running.phase, running.reason) == ("Running", "NotYetConfident")
    late = evaluate(spec(), arms, running, T0 + dt.timedelta(hours=169))
    assert (late.phase, late.reason, late.winner, late.started_at) == (
        "Inconclusive",
        "MaxDurationReached",
        "model",
        T0,
    )


def test_an_arm_over_a_guardrail_loses_whatever_its_rate() -> None:
    s = spec(guardrails={"minHomepages": 100, "latencyP99Ms": 100, "errorRate": 0.05})
    slow = counters(1000, 400, latency_buckets={500: 1000})
    status = evaluate(s, {"model": slow, "popular": counters(1000, 10, latency_buckets={5: 1000})})
    assert (status.phase, status.reason, status.winner) == ("Concluded", "GuardrailBreached", "popular")
    assert "latency p99 500 ms over guardrails.latencyP99Ms 100" in (status.arms[0].disqualified or "")
    failing = counters(1000, 400, errors=60, latency_buckets={5: 1000})
    status = evaluate(s, {"model": failing, "popular": counters(1000, 10, latency_buckets={5: 1000})})
    assert status.winner == "popular" and "error rate 0.0600" in (status.arms[0].disqualified or "")


def test_a_shadow_arm_is_reported_but_never_decides() -> None:
    s = spec(
        arms=[
            {"name": "model", "version": "latest", "weight": 50},
            {"name": "popular", "version": "popular", "weight": 50},
            {"name": "shadow", "version": 3, "shadow": True},
        ]
    )
    arms = {
        "model": counters(1000, 101),
        "popular": counters(1000, 100),
        "shadow": counters(2000, 0, overlap_milli=1_500_000),
    }
    status = evaluate(s, arms)
    shadow = status.arms[2]
    assert (shadow.homepages, shadow.overlap, shadow.probability_best) == (2000, 0.75, None)
    assert status.winner is None and "shadow(v3,shadow) n=2000 overlap=0.75" in status.summary


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        (
            {"arms": [{"name": "a", "version": 1, "weight": 60}, {"name": "b", "version": 2, "weight": 60}]},
            "sum to 100, got 120",
        ),
        ({"arms": [{"name": "a", "version": 1, "weight": 100}]}, "at least 2 items"),
        (
            {"arms": [{"name": "a", "version": 1, "weight": 50}, {"name": "a", "version": 2, "weight": 50}]},
            "names ['a'] appear more than once",
        ),
        (
            {
                "arms": [
                    {"name": "a", "version": 1, "weight": 100},
                    {"name": "s", "version": 2, "shadow": True},
                    {"name": "t", "version": 3, "shadow": True},
                ]
            },
            "at most one shadow arm",
        ),
        (
            {
                "arms": [
                    {"name": "a", "version": 1, "weight": 90},
                    {"name": "s", "version": 2, "weight": 10, "shadow": True},
                ]
            },
            "weight must be 0",
        ),
        (
            {"arms": [{"name": "a", "version": 1, "weight": 100}, {"name": "b", "version": 2, "weight": 0}]},
            "weight 0 gets no traffic",
        ),
        (
            {"arms": [{"name": "a", "version": 0, "weight": 50}, {"name": "b", "version": 2, "weight": 50}]},
            "version must be >= 1",
        ),
        (
            {
                "arms": [
                    {"name": "a", "version": "newest", "weight": 50},
                    {"name": "b", "version": 2, "weight": 50},
                ]
            },
            "arms.0.version",
        ),
        (
            {
                "arms": [
                    {"name": "A B", "version": 1, "weight": 50},
                    {"name": "b", "version": 2, "weight": 50},
                ]
            },
            "arms.0.name",
        ),
        ({"confidence": 1.0}, "spec.experiment.confidence"),
        ({"attributionWindowS": 10}, "spec.experiment.attributionWindowS"),
        ({"goal": "revenue"}, "spec.experiment.goal"),
        ({"promote": "auto"}, "spec.experiment.promote"),
        ({"guardrails": {"errorRate": 2}}, "spec.experiment.guardrails.errorRate"),
    ],
)
def test_bad_experiments_are_refused_naming_the_field(experiment: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "name": "e",
        "arms": [{"name": "a", "version": 1, "weight": 50}, {"name": "b", "version": 2, "weight": 50}],
    }
    parsed, problems = spec_problems({"experiment": {**base, **experiment}})
    assert parsed is None
    assert any(message in p and p.startswith("spec.experiment") for p in problems), problems


def test_a_reconcile_reports_the_experiment_and_hands_the_api_its_arms() -> None:
    cluster = RecordingCluster(ready=True)
    read: list[tuple[str, str, str, tuple[str, ...]]] = []

    def reader(url: str, ns: str, name: str, arms: Any) -> dict[str, ArmCounters]:
        read.append((url, ns, name, tuple(arms)))
        return {"model": counters(1000, 250), "popular": counters(1000, 100)}

    body = _body({"experiment": spec(promote="Auto").to_spec()}, status={"model": MODEL.to_spec()})
    status = reconcile(body, cluster, read_counters=reader, now=lambda: T0)
    assert read and read[0][1:] == ("shop/homepage", "ranker-v4", ("model", "popular"))
    assert status["experiment"]["phase"] == "Concluded" and status["experiment"]["winner"] == "model"
    concluded = _condition(status, "ExperimentConcluded")
    assert (concluded["status"], concluded["reason"]) == ("True", "ProbabilityBest")
    assert "model now serves everyone" in concluded["message"]
    config = json.loads(
        next(iter(cluster.objects[("ConfigMap", "shop", "homepage-api-config")]["data"].values()))
    )
    # The pass that decides hands the API the winner alone; the next keeps the decision.
    assert [(a["name"], a["weight"]) for a in config["experiment"]["arms"]] == [("model", 100)]
    again = reconcile(
        {**body, "status": {**body["status"], **status}}, cluster, read_counters=reader, now=lambda: T0
    )
    assert again["experiment"]["decidedAt"] == status["experiment"]["decidedAt"]


def test_an_unservable_arm_is_a_condition_and_the_api_gets_no_split() -> None:
    cluster = RecordingCluster(ready=True)
    bad = spec(
        arms=[{"name": "a", "version": 9, "weight": 50}, {"name": "b", "version": "latest", "weight": 50}]
    )
    status = reconcile(
        _body({"experiment": bad.to_spec()}, status={"model": MODEL.to_spec()}),
        cluster,
        read_counters=lambda *a: {},
    )
    condition = _condition(status, "ExperimentConcluded")
    assert (condition["status"], condition["reason"]) == ("False", "ArmNotServable")
    assert "version 9 is not on the model volume" in condition["message"]
    assert status["experiment"]["phase"] == "Invalid"
    config = json.loads(
        next(iter(cluster.objects[("ConfigMap", "shop", "homepage-api-config")]["data"].values()))
    )
    assert config["experiment"] is None


def test_unreadable_counters_keep_the_last_numbers_and_say_why() -> None:
    def down(*_: Any) -> dict[str, ArmCounters]:
        raise OSError("connection refused")

    previous = evaluate(spec(), {"model": counters(50, 5), "popular": counters(50, 4)})
    body = _body(
        {"experiment": spec().to_spec()}, status={"model": MODEL.to_spec(), "experiment": previous.to_spec()}
    )
    status = reconcile(body, RecordingCluster(ready=True), read_counters=down, now=lambda: T0)
    assert status["experiment"]["arms"][0]["homepages"] == 50
    assert "counters unreadable in Valkey (connection refused)" in status["experiment"]["message"]


def test_removing_the_experiment_drops_its_condition_and_status() -> None:
    cluster = RecordingCluster(ready=True)
    first = reconcile(
        _body({"experiment": spec().to_spec()}, status={"model": MODEL.to_spec()}),
        cluster,
        read_counters=lambda *a: {},
    )
    assert _condition(first, "ExperimentConcluded")
    status = reconcile(_body({}, status={"model": MODEL.to_spec(), **first}), cluster)
    assert status["experiment"] is None
    assert all(c["type"] != "ExperimentConcluded" for c in status["conditions"])


def test_a_pinned_arm_makes_triton_serve_its_version_beside_the_current_one() -> None:
    cluster = RecordingCluster(ready=True)
    pinned = spec(
        arms=[{"name": "new", "version": "latest", "weight": 50}, {"name": "old", "version": 3, "weight": 50}]
    )
    reconcile(
        _body({"experiment": pinned.to_spec()}, status={"model": MODEL.to_spec()}),
        cluster,
        read_counters=lambda *a: {},
    )
    pod = cluster.objects[("Deployment", "shop", "homepage-triton")]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for c in pod["initContainers"] for e in c.get("env", [])}
    assert json.loads(env["RECSYS_PINNED_VERSIONS"]) == [3]
    args = " ".join(a for c in pod["containers"] for a in c.get("args", []) + c.get("command", []))
    assert "--load-model=homepage__v3" in args
    config = json.loads(
        next(iter(cluster.objects[("ConfigMap", "shop", "homepage-api-config")]["data"].values()))
    )
    assert [a["ensemble"] for a in config["experiment"]["arms"]] == ["homepage", "homepage__v3"]
