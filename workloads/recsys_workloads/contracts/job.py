"""What a training Job's pod and the operator agree on (orchestrator `job`), declared once.

The operator starts `python -m recsys_workloads.pipelines.job_run PIPELINE` in the training
image with the run's arguments in the environment; the pod runs the compiled pipeline with
KFP's local runner and ends by writing a `JobOutcome` to its termination message, which the
kubelet keeps in the pod's status. So the operator learns the result, the failed step and
the metrics from the API server alone: it never mounts the model volume or reads a log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, Field

ARGUMENTS_ENV: Final = "RECSYS_PIPELINE_ARGUMENTS"  # the pipeline's arguments as one JSON object
RUN_ID_ENV: Final = "RECSYS_RUN_ID"  # the run id the pipeline sees (outputs are recorded under it)
CONTAINER: Final = "pipeline"
TERMINATION_LOG: Final = Path("/dev/termination-log")
MAX_MESSAGE_BYTES: Final = 4096  # what the kubelet keeps of a termination message


class JobOutcome(BaseModel):
    """How a run ended, as small as a termination message must be."""

    state: Literal["SUCCEEDED", "FAILED"]
    error: str | None = None
    failed_step: str | None = Field(None, description="the pipeline task that failed")
    outputs: dict[str, object] = Field(
        default_factory=dict, description="metrics metadata, version, accepted"
    )

    def to_message(self) -> str:
        """Compact JSON within MAX_MESSAGE_BYTES: a long error is shortened, never the outputs."""
        text = self.model_dump_json(exclude_none=True)
        overflow = len(text.encode()) - MAX_MESSAGE_BYTES
        if overflow > 0 and self.error:
            keep = max(0, len(self.error.encode()) - overflow - 8)
            shorter = self.model_copy(
                update={"error": self.error.encode()[:keep].decode(errors="ignore") + " …"}
            )
            text = shorter.model_dump_json(exclude_none=True)
        return text

    @classmethod
    def from_message(cls, text: str) -> JobOutcome | None:
        """None for anything that is not an outcome (a pod killed before it wrote one)."""
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, TypeError):
            return None


def slim_outputs(outputs: dict[str, object]) -> dict[str, object]:
    """The outputs the operator reads (metrics metadata, version, accepted), without pod-local paths."""
    slim: dict[str, object] = {}
    for name, value in outputs.items():
        if isinstance(value, dict):
            metadata = value.get("metadata")
            if isinstance(metadata, dict) and metadata:
                slim[name] = {"metadata": metadata}
        elif isinstance(value, (int, float, bool, str)) or value is None:
            slim[name] = value
    return slim
