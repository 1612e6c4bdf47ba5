"""A TrainingRun's parameters and data window on top of its recommender's pipeline config."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from recsys_workloads.contracts.pipelines import DataWindow, PipelineConfig, apply_overrides
from recsys_workloads.pipelines.steps import (
    dataset_origin,
    fine_tune_days,
    initial_train_days,
    window_days,
)

ORIGIN = int(dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp())  # the generator's default day 0
DAYS = [0, 1, 2, 3]


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, 5 + day, hour, tzinfo=dt.UTC)


def test_json_values_and_dotted_model_keys_override_the_config() -> None:
    base = PipelineConfig()
    config = apply_overrides(
        base,
        {
            "trainDays": "[0, 1]",
            "evalDay": "3",
            "models.fineTune.regressionTolerance": "0.05",
            "models.twoTower.epochs": "2",
            "models.exportFormat": "saved_model",  # not JSON: taken as the string
            "retrieval.factory": "HNSW32",
        },
    )
    assert config.train_days == [0, 1] and config.eval_day == 3
    assert config.models.fine_tune.regression_tolerance == 0.05
    assert config.models.two_tower.epochs == 2 and config.models.export_format == "saved_model"
    assert config.retrieval.factory == "HNSW32"
    assert base == PipelineConfig()  # the recommender's config is left as it was
    assert apply_overrides(base, {}) == base


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("artifactRoot", '"/tmp/x"', "unknown pipeline parameter 'artifactRoot': allowed are trainDays"),
        ("modelVolumeClaim", '"x"', "unknown pipeline parameter 'modelVolumeClaim'"),
        (
            "models.twoTower.epoch",
            "2",
            "unknown pipeline parameter 'models.twoTower.epoch': no field 'epoch'",
        ),
        ("models.exportFormat.x", "2", "'exportFormat' has no fields"),
        ("trainDays", "x", r"pipeline parameter trainDays='x': trainDays: Input should be a valid list"),
        ("evalDay", "[3]", "pipeline parameter evalDay='\\[3\\]': evalDay"),
        ("models.twoTower.epochs", "0", "pipeline parameter models.twoTower.epochs='0'"),
    ],
)
def test_unknown_keys_and_bad_values_name_the_parameter(key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_overrides(PipelineConfig(), {key: value})


def test_a_new_day_that_is_also_the_evaluation_day_is_refused() -> None:
    with pytest.raises(ValueError, match=r"newDays.*evalDay must not be one of newDays"):
        apply_overrides(PipelineConfig(run_type="Incremental"), {"evalDay": "3", "newDays": "[2, 3]"})


def test_the_data_window_travels_in_the_config_and_excludes_explicit_days() -> None:
    config = apply_overrides(PipelineConfig(), {}, start=at(1), end=at(3))
    assert config.data_window == DataWindow(start=at(1), end=at(3))
    assert PipelineConfig.from_argument(config.to_argument()) == config
    with pytest.raises(ValueError, match=r"dataWindow: .*give one"):
        apply_overrides(PipelineConfig(), {"trainDays": "[0]"}, end=at(2))
    with pytest.raises(ValueError, match="start must be before"):
        apply_overrides(PipelineConfig(), {}, start=at(2), end=at(1))


def test_a_model_claim_needs_the_repository_on_the_mount() -> None:
    assert PipelineConfig(model_volume_claim="homepage-models", model_repository="/models").model_volume_claim
    with pytest.raises(ValidationError, match="modelRepository must be under /models"):
        PipelineConfig(model_volume_claim="homepage-models", model_repository="/tmp/models")


def test_a_window_keeps_only_the_days_wholly_inside_it() -> None:
    assert window_days(DAYS, ORIGIN, DataWindow(end=at(2))) == [0, 1]
    assert window_days(DAYS, ORIGIN, DataWindow(start=at(1))) == [1, 2, 3]
    assert window_days(DAYS, ORIGIN, DataWindow(start=at(1, 10), end=at(3, 10))) == [2]  # partial days out
    naive = dt.datetime(2026, 1, 6)  # read as UTC
    assert window_days(DAYS, ORIGIN, DataWindow(start=naive)) == [1, 2, 3]
    berlin = dt.datetime(2026, 1, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # 00:00 UTC
    assert window_days(DAYS, ORIGIN, DataWindow(start=berlin)) == [1, 2, 3]
    with pytest.raises(
        ValueError, match=r"holds no whole day of the dataset \(days 0\.\.3 from 2026-01-05\)"
    ):
        window_days(DAYS, ORIGIN, DataWindow(start=at(1, 1), end=at(2)))
    with pytest.raises(ValueError, match="needs the dataset's day origin"):
        window_days(DAYS, None, DataWindow(end=at(2)))


def test_an_initial_run_trains_on_the_window_without_the_held_out_days() -> None:
    assert initial_train_days(PipelineConfig(train_days=[0]), DAYS, ORIGIN) == [0]
    assert initial_train_days(PipelineConfig(), DAYS, ORIGIN) is None  # the default split
    assert initial_train_days(PipelineConfig(data_window=DataWindow(start=at(1))), DAYS, ORIGIN) == [1, 2]
    with pytest.raises(ValueError, match="only held-out evaluation days \\[3\\]"):
        initial_train_days(PipelineConfig(data_window=DataWindow(start=at(3))), DAYS, ORIGIN)


def test_an_incremental_run_fine_tunes_on_the_unseen_window_days() -> None:
    incremental = PipelineConfig(run_type="Incremental")
    assert fine_tune_days(incremental, [0, 1, 2, 3, 4], trained=[0, 1], origin=ORIGIN) == ([2, 3], 4)
    windowed = incremental.model_copy(update={"data_window": DataWindow(start=at(3))})
    assert fine_tune_days(windowed, [0, 1, 2, 3, 4], trained=[0, 1], origin=ORIGIN) == ([3], 4)
    explicit = PipelineConfig(run_type="Incremental", new_days=[1], eval_day=2)
    assert fine_tune_days(explicit, [0, 1, 2, 3], trained=[0], origin=None) == ([1], 2)


def test_the_day_origin_comes_from_the_canonical_datasets_manifest(tmp_path: Path) -> None:
    assert dataset_origin(tmp_path) is None
    (tmp_path / "manifest.json").write_text(json.dumps({"origin_timestamp": ORIGIN, "layout": "seed"}))
    assert dataset_origin(tmp_path) == ORIGIN
