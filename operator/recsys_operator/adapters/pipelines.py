"""Which pipeline runner a recommender's TrainingRuns go to."""

from __future__ import annotations

import os
from pathlib import Path

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_workloads.pipelines.runner import KfpClientRunner, LocalRunner, PipelineRunner

RUNNER_ENV = "RECSYS_PIPELINE_RUNNER"  # "kfp" (default) or "local"
LOCAL_RUNS_ENV = "RECSYS_LOCAL_RUNS"


def runner_for(spec: RecommenderSystemSpec) -> PipelineRunner:
    """A KFP server in a cluster; kfp.local child processes in local mode and tests."""
    if os.environ.get(RUNNER_ENV, "kfp") == "local":
        return LocalRunner(Path(os.environ.get(LOCAL_RUNS_ENV, "/tmp/recsys-runs")))
    return KfpClientRunner(host=spec.training.kfp_endpoint)
