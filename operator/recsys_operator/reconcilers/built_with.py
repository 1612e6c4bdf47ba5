"""Which spec values a model version was trained with, and which of them the spec has changed since.

Some fields act only when a version is built (the data read, every model setting, the FAISS
index layout, the history memory the features learned under); serving keeps the version's
values until the next training run. A TrainingRun records them when it submits its pipeline
(`status.builtWith`), promotion copies them to `status.model.builtWith`, and `ModelUpToDate`
names the fields whose spec value differs from what serves. Values are shown as they are for
scalars and as a short digest for whole sections.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from pydantic import BaseModel

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import training_job
from recsys_workloads.contracts.data_sources import DataSourcesSpec
from recsys_workloads.contracts.models import ModelsConfig
from recsys_workloads.contracts.pipelines import PipelineConfig

BuiltWith = dict[str, str]  # spec path -> value or digest
# What an incremental run carries over from the version it fine-tunes (models.pipeline.finetune_version
# copies the transforms, the towers' shapes and the index): only an Initial run changes these.
CARRIED_BY_FINE_TUNE = ("models", "retrieval.factory", "retrieval.metric", "filtering.windowDays")


def training_sources(parent: RecommenderSystemSpec) -> DataSourcesSpec:
    """The data sources a run reads: a Job run mounts the event log when events are served live."""
    sources = parent.data_sources
    if parent.training.orchestrator == "job" and parent.events.replicas and sources.events_uri is None:
        return sources.model_copy(update={"events_uri": training_job.EVENT_LOG_MOUNT})
    return sources


def training_models(parent: RecommenderSystemSpec) -> ModelsConfig:
    """The models section a run trains with (the replay ratio lives under spec.training)."""
    fine_tune = parent.models.fine_tune.model_copy(
        update={"replay_ratio": parent.training.history_replay_ratio}
    )
    return parent.models.model_copy(update={"fine_tune": fine_tune})


def _digest(section: BaseModel) -> str:
    text = json.dumps(section.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def built_with(config: PipelineConfig) -> BuiltWith:
    """What a run's pipeline config fixes in the version it builds, keyed by the spec path."""
    return {
        "dataSources": _digest(config.data_sources),
        "models": _digest(config.models),
        "retrieval.factory": config.retrieval.factory,
        "retrieval.metric": config.retrieval.metric,
        "filtering.windowDays": str(config.history_memory_days),
    }


def for_run(config: PipelineConfig, serving: Mapping[str, str]) -> BuiltWith:
    """`built_with` of a run; an incremental one keeps the serving version's carried-over values
    (unknown, so left out, when that version recorded none)."""
    recorded = built_with(config)
    if config.run_type != "Incremental":
        return recorded
    own = {k: v for k, v in recorded.items() if k not in CARRIED_BY_FINE_TUNE}
    return {**own, **{k: serving[k] for k in CARRIED_BY_FINE_TUNE if k in serving}}


def of_spec(parent: RecommenderSystemSpec) -> BuiltWith:
    """The same values as the spec says them now (a run without parameter overrides would record these)."""
    return {
        "dataSources": _digest(training_sources(parent)),
        "models": _digest(training_models(parent)),
        "retrieval.factory": parent.retrieval.factory,
        "retrieval.metric": parent.retrieval.metric,
        "filtering.windowDays": str(parent.filtering.window_days),
    }


def changed_since_training(built: Mapping[str, str], parent: RecommenderSystemSpec) -> list[str]:
    """Spec paths whose value differs from the serving version's (paths a version did not record are skipped)."""
    now = of_spec(parent)
    return [path for path, value in now.items() if path in built and built[path] != value]
