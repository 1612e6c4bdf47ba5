"""The training pipelines' parameters and the pure logic behind their steps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recsys_workloads.contracts.pipelines import PipelineConfig
from recsys_workloads.pipelines.steps import (
    accelerator_limit,
    headline_metrics,
    select_new_days,
    step_timings,
    task_walls,
    timed,
)


def test_models_retrieval_and_placement_travel_in_camel_case_and_come_back_equal() -> None:
    config = PipelineConfig.model_validate(
        {
            "models": {"twoTower": {"epochs": 1}, "exportFormat": "saved_model"},
            "retrieval": {"factory": "HNSW32"},
            "artifactRoot": "s3://bucket/recsys",
            "modelRepository": "/models/homepage",
            "newDays": [12],
            "gpu": True,
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        }
    )
    text = config.to_argument()
    assert '"twoTower"' in text and '"nodeSelector"' in text and '"modelRepository"' in text
    parsed = PipelineConfig.from_argument(text)
    assert parsed == config
    assert parsed.models.two_tower.epochs == 1 and parsed.retrieval.factory == "HNSW32"
    assert accelerator_limit(parsed) == "1"
    assert accelerator_limit(PipelineConfig()) == "0"


def test_a_typo_in_a_nested_field_is_an_error_naming_it() -> None:
    with pytest.raises(ValidationError, match=r"twoTower\.epoch"):
        PipelineConfig.model_validate({"models": {"twoTower": {"epoch": 1}}})


def test_evaluating_on_a_fine_tuning_day_is_rejected() -> None:
    with pytest.raises(ValidationError, match="evalDay must not be one of newDays"):
        PipelineConfig.model_validate({"newDays": [5, 6], "evalDay": 6})


def test_new_days_are_the_unseen_days_without_the_evaluation_day() -> None:
    assert select_new_days([0, 1, 2, 3, 4], trained=[0, 1], eval_day=4) == [2, 3]
    with pytest.raises(ValueError, match="no new days"):
        select_new_days([0, 1, 2], trained=[0, 1], eval_day=2)


def test_step_timings_come_back_from_the_progress_log(capsys: pytest.CaptureFixture[str]) -> None:
    with timed("train_dlrm"):
        pass
    with timed("evaluate"):
        pass
    out = capsys.readouterr().out
    assert "[train_dlrm] started" in out and "[train_dlrm] finished in" in out
    log = "\n".join(f"\x1b[32m[task] \x1b[0m{line}" for line in out.splitlines())  # kfp.local's prefix
    assert set(step_timings(log)) == {"train_dlrm", "evaluate"}


def test_headline_metrics_are_the_two_tower_on_all_users_and_the_ranker() -> None:
    rows = [
        {"method": m, "segment": s, "recall@100": r, "ndcg@100": r / 2, "queries": 40 if s == "all" else 5}
        for m, r in (("popularity", 0.1), ("two_tower", 0.4), ("two_tower+dlrm", 0.5))
        for s in ("all", "new")
    ]
    metrics = headline_metrics({"retrieval": rows, "ranking": {"auc": 0.8, "logloss": 0.4}})
    assert metrics["recall_at_k"] == 0.4 and metrics["ndcg_at_k"] == 0.2 and metrics["k"] == 100
    assert metrics["popularity_recall_at_k"] == 0.1 and metrics["auc"] == 0.8
    assert metrics["queries"] == 40  # how much the numbers above can be trusted


def test_task_walls_pair_each_tasks_start_and_finish_in_the_kfp_local_log() -> None:
    log = "\n".join(
        [
            "23:59:58.500 - INFO - Executing task \x1b[96m'train-dlrm'\x1b[0m",
            "    [train_dlrm] started",
            "00:00:03.000 - INFO - Task \x1b[96m'train-dlrm'\x1b[0m finished with status SUCCESS",
            "00:00:03.001 - INFO - Executing task 'evaluate'",
        ]
    )
    assert task_walls(log) == {"train-dlrm": 4.5}  # across midnight; unfinished tasks left out
