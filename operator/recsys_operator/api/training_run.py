"""`TrainingRun` (short name `tr`): one initial or incremental training of a RecommenderSystem."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from recsys_operator.api.conditions import Condition
from recsys_workloads.contracts.spec import SpecModel

KIND = "TrainingRun"
PLURAL = "trainingruns"
SHORT_NAMES = ["tr"]

CREATED = "Created"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"


class RecommenderRef(SpecModel):
    """The RecommenderSystem this run trains."""

    name: str = Field(min_length=1, description="RecommenderSystem in the same namespace")


class DataWindow(SpecModel):
    """Interactions the run reads; empty bounds mean all history or up to now."""

    start: dt.datetime | None = Field(None, description="first interaction time included (UTC)")
    end: dt.datetime | None = Field(None, description="first interaction time excluded (UTC)")


class TrainingRunSpec(SpecModel):
    """Desired training run."""

    recommender_ref: RecommenderRef
    type: Literal["Initial", "Incremental"] = Field("Initial", description="Initial trains from scratch")
    data_window: DataWindow = Field(default_factory=DataWindow)
    parameters: dict[str, str] = Field(default_factory=dict, description="pipeline parameter overrides")
    promote: Literal["Auto", "Manual"] = Field("Auto", description="Auto: roll out passing versions at once")


class StateChange(SpecModel):
    """One observed KFP run state."""

    state: str = Field(description="KFP run state, e.g. PENDING, RUNNING, SUCCEEDED")
    time: dt.datetime


class TrainingMetrics(SpecModel):
    """Evaluation on held-out days."""

    k: int | None = Field(None, description="cut-off of recall@k and NDCG@k")
    recall_at_k: float | None = Field(None, description="two-tower recall@k on held-out days")
    ndcg_at_k: float | None = None
    auc: float | None = Field(None, description="ranker AUC on held-out days")
    logloss: float | None = None
    queries: int | None = Field(
        None, description="held-out queries the metrics average over: a handful of them decide nothing"
    )
    serving_recall_at_k: float | None = Field(
        None, description="incremental runs: the serving version's recall@k on the same queries"
    )
    serving_auc: float | None = Field(None, description="incremental runs: the serving version's AUC")
    first_trained_day: int | None = Field(
        None,
        description="first dataset day trained on (incremental runs: of the new days; replay adds older rows)",
    )
    last_trained_day: int | None = Field(None, description="last dataset day trained on")
    trained_days: int | None = Field(None, description="days trained on (fewer than the range: a gap)")
    eval_day: int | None = Field(None, description="dataset day the metrics are measured on")


class DataSummary(SpecModel):
    """What the run's data step read, and what the unknown-id policy kept and dropped."""

    users: int | None = Field(None, description="users, profile-less ones included")
    items: int | None = None
    interactions: int | None = Field(None, description="interaction rows, impressions included")
    days: int | None = None
    profile_less_users: int | None = Field(
        None, description="users of interactions without a profile, kept (spec.dataSources.unknownUsers)"
    )
    dropped_interactions: int | None = Field(
        None,
        description="rows dropped because their item is not in the catalog (spec.dataSources.unknownItems)",
    )
    unknown_items: int | None = Field(None, description="distinct item ids of those rows")


class TrainingRunStatus(SpecModel):
    """Observed state, written by the operator."""

    observed_generation: int | None = None
    conditions: list[Condition] = Field(default_factory=list)
    state: str | None = Field(None, description="latest KFP run state")
    kfp_run_id: str | None = Field(
        None, description="run id: on the Kubeflow Pipelines server, or the Job's name (orchestrator job)"
    )
    failed_step: str | None = Field(None, description="the pipeline step that failed")
    state_history: list[StateChange] = Field(default_factory=list)
    metrics: TrainingMetrics = Field(default_factory=TrainingMetrics)
    data: DataSummary | None = Field(None, description="what the data step read, kept and dropped")
    model_versions: dict[str, int] = Field(default_factory=dict, description="model name -> produced version")
    built_with: dict[str, str] = Field(
        default_factory=dict,
        description="training-time spec values the run submitted (spec path -> value, or a digest of a section)",
    )
    start_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None
