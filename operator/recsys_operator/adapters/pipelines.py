"""Which pipeline runner a recommender's TrainingRuns go to, and where their results land."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from recsys_operator.adapters.jobs import JobRunner
from recsys_operator.adapters.kube import Cluster
from recsys_operator.api.recommender_system import RecommenderSystemSpec, TrainingSpec
from recsys_operator.manifests import web
from recsys_operator.manifests.common import Owner
from recsys_workloads.contracts.pipelines import MODEL_MOUNT, OnlineWarmup
from recsys_workloads.contracts.runs import PipelineRunner, RunnerUnavailableError
from recsys_workloads.pipelines.runner import KfpClientRunner, LocalRunner

RUNNER_ENV = "RECSYS_PIPELINE_RUNNER"  # "kfp" (default) or "local"
LOCAL_RUNS_ENV = "RECSYS_LOCAL_RUNS"
ARTIFACT_ROOT_ENV = "RECSYS_ARTIFACT_ROOT"  # s3://bucket/prefix in a cluster
JOB_ARTIFACTS = f"{MODEL_MOUNT}/.artifacts"  # orchestrator job without an artifact store: the model volume


class Storage(BaseModel):
    """Where a recommender's runs keep artifacts and publish model versions."""

    artifact_root: str
    model_repository: str
    model_volume_claim: str | None = None  # mounted into the pipeline steps; None in local mode


def local_mode() -> bool:
    return os.environ.get(RUNNER_ENV, "kfp") == "local"


def local_runs_root() -> Path:
    return Path(os.environ.get(LOCAL_RUNS_ENV, "/tmp/recsys-runs"))


def storage_for(namespace: str, recommender: str, training: TrainingSpec | None = None) -> Storage:
    """Local mode: folders per recommender beside the runs; a cluster: the model volume and the
    artifact store (spec.training.artifactRoot, else $RECSYS_ARTIFACT_ROOT, else for orchestrator
    `job` the model volume itself).

    Local mode keeps the model repository on this machine and honours an s3:// artifactRoot
    (versions, reports and run outputs go to the bucket, as in a cluster); a folder there is
    ignored: local mode's artifacts stay beside its runs.

    Never a relative path: pipeline steps run with another working directory.
    """
    training = training or TrainingSpec()
    if local_mode():
        base = local_runs_root().resolve() / f"{namespace}-{recommender}"
        artifacts = str(base / "artifacts")
        if training.artifact_root and training.artifact_root.startswith("s3://"):
            artifacts = f"{training.artifact_root.rstrip('/')}/{namespace}/{recommender}"
        return Storage(artifact_root=artifacts, model_repository=str(base / "models"))
    root = training.artifact_root or os.environ.get(ARTIFACT_ROOT_ENV)
    orchestrator = training.orchestrator
    if root:
        artifact_root = f"{root.rstrip('/')}/{namespace}/{recommender}"
    elif orchestrator == "job":
        artifact_root = JOB_ARTIFACTS  # the volume is this recommender's alone
    else:
        raise RunnerUnavailableError(
            "ArtifactStoreNotConfigured",
            f"Kubeflow Pipelines runs need an artifact store: set spec.training.artifactRoot or the operator's "
            f"{ARTIFACT_ROOT_ENV} (s3://bucket/prefix), or spec.training.orchestrator to job (artifacts on the "
            "model volume)",
        )
    return Storage(
        artifact_root=artifact_root,
        model_repository=MODEL_MOUNT,
        model_volume_claim=f"{recommender}-models",  # manifests.triton.model_volume_claim's name
    )


def online_warmup(owner: Owner, spec: RecommenderSystemSpec) -> OnlineWarmup | None:
    """Where an initial run in a cluster replays the history into Valkey; None in local mode
    (it warms Valkey itself before training). A password reaches the training Job's pod from the
    Secret; KFP steps get no Secret mounted here, so a password-protected Valkey is not warmed
    through KFP (the event service fills it from live events)."""
    if local_mode():
        return None
    if spec.feature_store.online_store.password_secret_ref and spec.training.orchestrator == "kfp":
        return None
    return OnlineWarmup(
        redis_url=web.redis_url(owner, spec), key_namespace=web.key_namespace(owner), filtering=spec.filtering
    )


def runner_for(
    spec: RecommenderSystemSpec, cluster: Cluster, namespace: str, run: Mapping[str, Any]
) -> PipelineRunner:
    """kfp.local child processes in local mode and tests; in a cluster what spec.training says.

    `run` is the TrainingRun (a Job is owned by it); its recommenderRef names the owner.
    """
    if local_mode():
        return LocalRunner(local_runs_root())
    if spec.training.orchestrator == "job":
        recommender = ((run.get("spec") or {}).get("recommenderRef") or {}).get("name", "")
        owner = Owner(name=str(recommender), namespace=namespace, uid="")
        return JobRunner(cluster, owner, spec, run["metadata"])
    return KfpClientRunner(host=spec.training.kfp_endpoint)
