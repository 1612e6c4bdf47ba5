"""The RecommenderSystem and TrainingRun specs: Kubernetes spelling, defaults, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from recsys_operator.api.recommender_system import RecommenderSystemSpec, validate
from recsys_operator.api.training_run import TrainingRunSpec
from recsys_workloads.contracts.serving import MAX_CATEGORY_CAP, MAX_TEMPERATURE, MAX_TOP_K

SAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "samples"


def _sample(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((SAMPLES / name).read_text())["spec"])


def test_the_sample_recommender_parses_and_passes_the_operator_rules() -> None:
    spec = RecommenderSystemSpec.model_validate(_sample("recsys_v1alpha1_recommendersystem.yaml"))
    assert spec.filtering.window_days == 7
    assert spec.reranking.max_per_category == 4
    assert spec.data_sources.generator is not None
    assert validate(spec) == []


def test_the_sample_training_run_parses() -> None:
    spec = TrainingRunSpec.model_validate(_sample("recsys_v1alpha1_trainingrun.yaml"))
    assert (spec.recommender_ref.name, spec.type, spec.promote) == ("homepage", "Incremental", "Manual")


def test_an_empty_spec_gets_every_default_and_round_trips_in_camel_case() -> None:
    spec = RecommenderSystemSpec.model_validate({})
    dumped = spec.to_spec()
    filtering, serving = dumped["filtering"], dumped["serving"]
    assert isinstance(filtering, dict) and isinstance(serving, dict)
    assert filtering["windowDays"] == 7
    assert serving["modelRepository"]["storageClass"] == "efs-sc"
    assert RecommenderSystemSpec.model_validate(dumped) == spec


def test_a_misspelt_field_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ValidationError, match="windowDay"):
        RecommenderSystemSpec.model_validate({"filtering": {"windowDay": 3}})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"dataSources": {"layout": "seed"}}, "spec.dataSources.uri is required with layout seed"),
        (
            {"dataSources": {"layout": "rds", "uri": "s3://bucket/p", "generator": {}}},
            "generator only applies to layout generated",
        ),
        (
            {"dataSources": {"layout": "personalize"}},
            "spec.dataSources.uri is required with layout personalize",
        ),
        (
            {"dataSources": {"layout": "seed", "uri": "/data", "eventTypes": {"rate": "View"}}},
            "spec.dataSources.eventTypes only applies to layout personalize",
        ),
        (
            {
                "dataSources": {
                    "layout": "personalize",
                    "uri": "/d",
                    "eventTypes": {"Rate": "View", "rate": "Purchase"},
                }
            },
            "'Rate' (View) and 'rate' (Purchase) differ only in case",
        ),
        (
            {"dataSources": {"layout": "personalize", "uri": "/d", "eventTypes": {" ": "View"}}},
            "an event type name must not be empty",
        ),
        ({"serving": {"replicas": 3, "maxReplicas": 2}}, "replicas must not exceed"),
        ({"capacity": {"minNodes": 3, "maxNodes": 1}}, "minNodes must not exceed"),
        ({"capacity": {"provider": "karpenter"}}, "nodePool is required"),
        (
            {"capacity": {"provider": "eks-nodegroup", "clusterName": "c"}},
            "clusterName and nodeGroup are required",
        ),
        ({"ranking": {"topK": 10}, "reranking": {"numItems": 20}}, "numItems must not exceed"),
        ({"retrieval": {"topK": 50}, "ranking": {"topK": 60}}, "spec.ranking.topK must not exceed"),
    ],
)
def test_cross_field_rules_name_the_field(spec: dict[str, Any], message: str) -> None:
    problems = validate(RecommenderSystemSpec.model_validate(spec))
    assert any(message in p for p in problems), problems


def test_the_serving_steps_get_their_knobs_from_one_spec() -> None:
    spec = RecommenderSystemSpec.model_validate(
        {
            "serving": {"graph": "fused"},
            "retrieval": {"topK": 500},
            "ranking": {"topK": 120},
            "reranking": {"maxPerCategory": 3, "temperature": 0.5},
            "filtering": {"windowDays": 3, "capacity": 20000},
        }
    )
    graph = spec.serving_graph()
    assert (graph.graph, graph.retrieval_top_k, graph.ranking_top_k) == ("fused", 500, 120)
    assert (graph.category_cap, graph.temperature) == (3, 0.5)
    assert graph.seen_filter == spec.filtering  # the layout the event service writes
    assert RecommenderSystemSpec().serving_graph().category_cap == 0


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("retrieval", "topK"),
        ("ranking", "topK"),
        ("reranking", "maxPerCategory"),
        ("reranking", "temperature"),
    ],
)
def test_a_value_the_spec_accepts_is_one_serving_can_run(section: str, field: str) -> None:
    """Every bound of the serving config is the spec's too, so the API server refuses it first."""
    limits = {"topK": MAX_TOP_K, "maxPerCategory": MAX_CATEGORY_CAP, "temperature": MAX_TEMPERATURE}
    at_limit = {section: {field: limits[field]}}
    RecommenderSystemSpec.model_validate(at_limit).serving_graph()  # serving takes the largest value
    with pytest.raises(ValidationError, match=field):
        RecommenderSystemSpec.model_validate({section: {field: limits[field] * 2}})


def test_more_recent_items_than_the_online_store_keeps_is_refused_naming_the_field() -> None:
    from pydantic import ValidationError

    from recsys_operator.api.recommender_system import RecommenderSystemSpec
    from recsys_workloads.contracts.keys import RECENT_KEPT

    RecommenderSystemSpec.model_validate({"models": {"recentItems": RECENT_KEPT}})
    with pytest.raises(ValidationError, match=r"recentItems|recent_items"):
        RecommenderSystemSpec.model_validate({"models": {"recentItems": RECENT_KEPT + 1}})
