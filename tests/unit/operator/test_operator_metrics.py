"""The operator's per-recommender gauges: set from status, absent until known, dropped on delete."""

from __future__ import annotations

from prometheus_client import REGISTRY

from recsys_operator import metrics
from recsys_workloads.contracts.metrics import OperatorMetric


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_model_versions_have_no_series_until_a_version_exists() -> None:
    metrics.set_model_versions("shop/a", None, 3)
    assert _value(OperatorMetric.MODEL_VERSION, recommender="shop/a", role="latest") == 3
    assert _value(OperatorMetric.MODEL_VERSION, recommender="shop/a", role="current") is None
    metrics.set_model_versions("shop/a", 3, 3)
    assert _value(OperatorMetric.MODEL_VERSION, recommender="shop/a", role="current") == 3
    metrics.set_model_versions("shop/a", None, None)
    assert _value(OperatorMetric.MODEL_VERSION, recommender="shop/a", role="current") is None


def test_arm_counts_are_kept_per_recommender_and_forgotten_with_it() -> None:
    metrics.set_arm_counts("shop/b", "exp", "control", 1200, {"click": 96, "purchase": 4})
    metrics.set_arm_counts("shop/c", "exp", "control", 10, {"click": 1})
    assert _value(OperatorMetric.ARM_HOMEPAGES, recommender="shop/b", experiment="exp", arm="control") == 1200
    goal = {"recommender": "shop/b", "experiment": "exp", "arm": "control", "goal": "click"}
    assert _value(OperatorMetric.ARM_GOAL_HOMEPAGES, **goal) == 96
    metrics.count_training_run("shop/b", "SUCCEEDED")
    metrics.forget_recommender("shop/b")
    assert _value(OperatorMetric.ARM_GOAL_HOMEPAGES, **goal) is None
    assert _value(f"{OperatorMetric.TRAINING_RUNS}", recommender="shop/b", state="SUCCEEDED") is None
    assert _value(OperatorMetric.ARM_HOMEPAGES, recommender="shop/c", experiment="exp", arm="control") == 10
