"""The one parameters object of every pipeline, passed to each step as JSON.

KFP parameters must be primitives, so the whole validated object travels as one string
and each component re-validates it: a bad value fails the first step, with the field named.
The operator builds it from a RecommenderSystem and a TrainingRun; `recsys local` builds
the same object, so both modes run the same pipelines with the same parameters.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from recsys_workloads.data.sources import DataSourcesSpec
from recsys_workloads.index.config import IndexConfig
from recsys_workloads.models.config import ModelsConfig
from recsys_workloads.spec import SpecModel

GPU_RESOURCE = "nvidia.com/gpu"


class Toleration(SpecModel):
    """A Kubernetes toleration of the training steps' pods (GPU nodes are usually tainted)."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


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
    gpu: bool = Field(False, description="run the training steps on one nvidia.com/gpu")
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="node labels of the training steps' pods"
    )
    tolerations: list[Toleration] = Field(default_factory=list, description="of the training steps' pods")
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

    def to_argument(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_argument(cls, text: str) -> PipelineConfig:
        return cls.model_validate_json(text)
