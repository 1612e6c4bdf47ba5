"""The one parameters object of every pipeline, passed to each step as JSON.

KFP parameters must be primitives, so the whole validated object travels as one string
and each component re-validates it: a bad value fails the first step, with the field named.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recsys_workloads.data.sources import DataSourcesSpec
from recsys_workloads.spec import SpecModel


class PipelineConfig(SpecModel):
    """Everything a training pipeline needs, built from a RecommenderSystem (and TrainingRun)."""

    recommender: str = Field("homepage", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description="name")
    run_type: Literal["Initial", "Incremental"] = "Initial"
    data_sources: DataSourcesSpec = Field(default_factory=DataSourcesSpec)

    def to_argument(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_argument(cls, text: str) -> PipelineConfig:
        return cls.model_validate_json(text)
