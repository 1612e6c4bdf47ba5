"""Sticky, weighted, stable assignment of visitors to arms."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from recsys_workloads.contracts.experiment import ResolvedArm, ResolvedExperiment
from recsys_workloads.experiments.assignment import assign, bucket


def experiment(
    name: str = "exp", weights: tuple[int, ...] = (70, 30), shadow: bool = False
) -> ResolvedExperiment:
    arms = [
        ResolvedArm(name=f"a{i}", version=i + 1, weight=w, ensemble=f"e{i}") for i, w in enumerate(weights)
    ]
    if shadow:
        arms.append(ResolvedArm(name="shadow", version=9, weight=0, shadow=True, ensemble="es"))
    return ResolvedExperiment(name=name, arms=arms, attribution_window_s=600)


def test_a_visitor_keeps_its_arm() -> None:
    exp = experiment()
    for visitor in ("u1", "anon-s1", "42"):
        assert len({assign(exp, visitor).name for _ in range(20)}) == 1


@pytest.mark.parametrize("weights", [(70, 30), (50, 50), (10, 20, 70), (1, 99)])
def test_arms_get_their_weights(weights: tuple[int, ...]) -> None:
    exp = experiment(weights=weights)
    n = 40_000
    got = Counter(assign(exp, f"user-{i}").name for i in range(n))
    for i, w in enumerate(weights):
        share = got[f"a{i}"] / n
        # 40k draws: a share's standard error is below 0.0025; 4 of them is a loose bound.
        assert abs(share - w / 100) < 0.01, (weights, dict(got))


def test_shadow_arm_is_never_assigned() -> None:
    exp = experiment(shadow=True)
    assert "shadow" not in {assign(exp, f"u{i}").name for i in range(5_000)}


def test_a_new_experiment_name_reshuffles() -> None:
    first, second = experiment("first", (50, 50)), experiment("second", (50, 50))
    same = sum(assign(first, f"u{i}").name == assign(second, f"u{i}").name for i in range(10_000))
    assert 4_700 < same < 5_300  # independent draws agree half the time


def test_buckets_are_the_same_in_another_process() -> None:
    """The hash must not depend on PYTHONHASHSEED: every API replica assigns alike."""
    code = "from recsys_workloads.experiments.assignment import bucket; print(bucket('exp', 'u7'))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", **_path()},
    )
    assert int(out.stdout) == bucket("exp", "u7")


def _path() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "PATH", "HOME")}
