"""Which pipeline runner a recommender's TrainingRuns go to."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_workloads.pipelines.runner import KfpClientRunner, LocalRunner, PipelineRunner

RUNNER_ENV = "RECSYS_PIPELINE_RUNNER"  # "kfp" (default) or "local"
LOCAL_RUNS_ENV = "RECSYS_LOCAL_RUNS"
ARTIFACT_ROOT_ENV = "RECSYS_ARTIFACT_ROOT"  # s3://bucket/prefix in a cluster
MODEL_MOUNT_ENV = "RECSYS_MODEL_MOUNT"  # where pipeline pods mount the model volume
DEFAULT_MODEL_MOUNT = "/models"


class Storage(BaseModel):
    """Where a recommender's runs keep artifacts and publish model versions."""

    artifact_root: str
    model_repository: str
    model_volume_claim: str | None = None  # mounted into the pipeline steps; None in local mode


def local_mode() -> bool:
    return os.environ.get(RUNNER_ENV, "kfp") == "local"


def local_runs_root() -> Path:
    return Path(os.environ.get(LOCAL_RUNS_ENV, "/tmp/recsys-runs"))


def storage_for(namespace: str, recommender: str) -> Storage:
    """Local mode: folders per recommender beside the runs; a cluster: the configured store.

    Never a relative path: pipeline steps run with another working directory.
    """
    if local_mode():
        base = local_runs_root().resolve() / f"{namespace}-{recommender}"
        return Storage(artifact_root=str(base / "artifacts"), model_repository=str(base / "models"))
    root = os.environ.get(ARTIFACT_ROOT_ENV)
    if not root:
        raise RuntimeError(
            f"{ARTIFACT_ROOT_ENV} must name the artifact store (s3://bucket/prefix) in a cluster"
        )
    return Storage(
        artifact_root=f"{root.rstrip('/')}/{namespace}/{recommender}",
        model_repository=os.environ.get(MODEL_MOUNT_ENV, DEFAULT_MODEL_MOUNT),
        model_volume_claim=f"{recommender}-models",  # manifests.triton.model_volume_claim's name
    )


def runner_for(spec: RecommenderSystemSpec) -> PipelineRunner:
    """A KFP server in a cluster; kfp.local child processes in local mode and tests."""
    if local_mode():
        return LocalRunner(local_runs_root())
    return KfpClientRunner(host=spec.training.kfp_endpoint)
