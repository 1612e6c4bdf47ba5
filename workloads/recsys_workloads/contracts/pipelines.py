"""The one parameters object of every pipeline, passed to each step as JSON.

KFP parameters must be primitives, so the whole validated object travels as one string
and each component re-validates it: a bad value fails the first step, with the field named.
The operator builds it from a RecommenderSystem and a TrainingRun; `recsys local` builds
the same object, so both modes run the same pipelines with the same parameters.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal

from pydantic import Field, ValidationError, model_validator

from recsys_workloads.contracts.data_sources import DataSourcesSpec
from recsys_workloads.contracts.index import IndexConfig
from recsys_workloads.contracts.models import ModelsConfig
from recsys_workloads.contracts.online import SeenFilterConfig
from recsys_workloads.contracts.spec import SpecModel

COMPILED_DIR: Final = Path(__file__).resolve().parents[1] / "pipelines" / "compiled"
"""The compiled pipelines: `make pipelines` writes them, the KFP runner submits them."""

GPU_RESOURCE = "nvidia.com/gpu"
MODEL_MOUNT: Final = "/models"  # where pipeline pods mount the model volume's claim (compiled in)


class Toleration(SpecModel):
    """A Kubernetes toleration of the training steps' pods (GPU nodes are usually tainted)."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class OnlineWarmup(SpecModel):
    """Where an initial run replays the history into Valkey (a cluster's first deployment).

    Local mode warms Valkey itself before training, so it leaves this out.
    """

    redis_url: str = Field(min_length=1, description="redis:// or rediss:// URL without the password")
    key_namespace: str = Field("", description="the recommender's key prefix (RECSYS_KEY_NAMESPACE)")
    filtering: SeenFilterConfig = Field(default_factory=SeenFilterConfig, description="spec.filtering")


class DataWindow(SpecModel):
    """Interactions a run learns from, [start, end) in UTC; resolved to whole dataset days by the step.

    The day origin of the canonical dataset is known only once the data is prepared, so the
    training steps (not the operator) turn the window into day indices (`steps.window_days`).
    """

    start: dt.datetime | None = Field(None, description="first interaction time included (UTC)")
    end: dt.datetime | None = Field(None, description="first interaction time excluded (UTC)")

    @model_validator(mode="after")
    def _ordered(self) -> DataWindow:
        if self.start is not None and self.end is not None and utc(self.start) >= utc(self.end):
            raise ValueError("dataWindow.start must be before dataWindow.end")
        return self


def utc(moment: dt.datetime) -> dt.datetime:
    """A naive time is read as UTC (Kubernetes timestamps always carry a zone)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class PipelineConfig(SpecModel):
    """Everything a training pipeline needs, built from a RecommenderSystem (and TrainingRun)."""

    recommender: str = Field("homepage", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description="name")
    run_type: Literal["Initial", "Incremental"] = "Initial"
    data_sources: DataSourcesSpec = Field(default_factory=DataSourcesSpec)
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="spec.models")
    retrieval: IndexConfig = Field(default_factory=IndexConfig, description="spec.retrieval")
    artifact_root: str = Field(
        "artifacts",
        min_length=1,
        description="folder or s3://bucket/prefix keeping each exported version and its report",
    )
    model_repository: str = Field(
        "models",
        min_length=1,
        description="folder of numbered versions on the shared model volume (staged, then renamed)",
    )
    train_days: list[int] | None = Field(
        None, description="initial: days trained on; default all but the last models.validationDays"
    )
    new_days: list[int] | None = Field(
        None,
        description="incremental: days fine-tuned on; default the days the serving version has not "
        "seen, except the evaluation day",
    )
    eval_day: int | None = Field(None, description="incremental: evaluation day; default the last day")
    data_window: DataWindow | None = Field(
        None,
        description="TrainingRun.spec.dataWindow: train (initial) or fine-tune (incremental) only on the "
        "dataset days wholly inside it; exclusive with trainDays/newDays",
    )
    gpu: bool = Field(False, description="run the training steps on one nvidia.com/gpu")
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="node labels of the training steps' pods"
    )
    tolerations: list[Toleration] = Field(default_factory=list, description="of the training steps' pods")
    model_volume_claim: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description=f"PVC of the model volume, mounted at {MODEL_MOUNT} in the steps that read or publish "
        "versions (KFP only); none: no mount (local mode)",
    )
    history_memory_days: int = Field(
        default_factory=lambda: SeenFilterConfig().window_days,
        ge=1,
        le=365,
        description="spec.filtering.windowDays: the online store forgets a visitor's recent items and "
        "top category this long after its last interaction, so training forgets them the same way",
    )
    online: OnlineWarmup | None = Field(
        None,
        description="initial runs: replay the history into this Valkey once (popularity, seen filters, "
        "recent items, top categories), as local mode does before training; none: nothing is written",
    )
    feature_store: dict[str, Any] | None = Field(
        None,
        description="a feature_store.FeatureStoreConfig (camelCase) to materialise into after evaluation; "
        "none: the step materialises nothing. Validated by the first step (see pipelines.materialize)",
    )

    @model_validator(mode="after")
    def _days_do_not_overlap(self) -> PipelineConfig:
        if self.new_days is not None and self.eval_day is not None and self.eval_day in self.new_days:
            raise ValueError("evalDay must not be one of newDays (it would evaluate on training data)")
        return self

    @model_validator(mode="after")
    def _one_way_to_choose_days(self) -> PipelineConfig:
        if self.data_window is not None and (self.train_days is not None or self.new_days is not None):
            raise ValueError("dataWindow and trainDays/newDays both choose the training days: give one")
        return self

    @model_validator(mode="after")
    def _repository_on_the_mounted_claim(self) -> PipelineConfig:
        if self.model_volume_claim is not None and not PurePosixPath(self.model_repository).is_relative_to(
            MODEL_MOUNT
        ):
            raise ValueError(
                f"modelRepository must be under {MODEL_MOUNT}, where modelVolumeClaim is mounted, "
                f"got {self.model_repository!r}"
            )
        return self

    def to_argument(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_argument(cls, text: str) -> PipelineConfig:
        return cls.model_validate_json(text)


OVERRIDABLE: Final = ("trainDays", "newDays", "evalDay")
OVERRIDABLE_TREES: Final = ("models", "retrieval")


def apply_overrides(
    config: PipelineConfig,
    parameters: Mapping[str, str],
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> PipelineConfig:
    """A TrainingRun's `spec.parameters` and `spec.dataWindow` applied to its recommender's config.

    Keys are `trainDays`, `newDays`, `evalDay`, or a dotted camelCase path under `models.` or
    `retrieval.` (e.g. `models.fineTune.regressionTolerance`). A value is JSON (`"[4]"`, `"3"`,
    `"0.05"`, `"true"`), or taken as a plain string when it is not JSON (`"saved_model"`).
    Unknown keys and values the config rejects raise ValueError naming the key; placement,
    storage and data sources stay the recommender's.
    """
    data: dict[str, Any] = config.model_dump(mode="json", by_alias=True)
    for key, raw in sorted(parameters.items()):
        path = key.split(".")
        if not (key in OVERRIDABLE or (len(path) > 1 and path[0] in OVERRIDABLE_TREES)):
            raise ValueError(
                f"unknown pipeline parameter {key!r}: allowed are {', '.join(OVERRIDABLE)} "
                f"and dotted keys under {', '.join(t + '.' for t in OVERRIDABLE_TREES)}"
            )
        _set(data, path, _value(raw), key)
        try:
            PipelineConfig.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"pipeline parameter {key}={raw!r}: {_first_error(exc)}") from None
    if start is not None or end is not None:
        data["dataWindow"] = {"start": start, "end": end}
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"dataWindow: {_first_error(exc)}") from None


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _set(data: dict[str, Any], path: list[str], value: Any, key: str) -> None:
    node = data
    for part in path[:-1]:
        if part not in node:
            raise ValueError(f"unknown pipeline parameter {key!r}: no field {part!r}")
        if node[part] is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise ValueError(f"unknown pipeline parameter {key!r}: {part!r} has no fields")
        node = node[part]
    if path[-1] not in node:
        raise ValueError(f"unknown pipeline parameter {key!r}: no field {path[-1]!r}")
    node[path[-1]] = value


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
