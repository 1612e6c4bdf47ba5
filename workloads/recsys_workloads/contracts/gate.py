"""The incremental run's promotion gate: the candidate replaces the serving version only on evidence.

Pure (no Keras): the pipeline step decides with it and logs `gate_metrics`; the operator rebuilds
the same verdict from those numbers (`verdict_from_metrics`) for the TrainingRun's status, so the
rule and its wording live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from recsys_workloads.contracts.models import FineTuneConfig

GateReason = Literal["Promoted", "TooLittleEvidence", "Regressed"]


@dataclass(frozen=True)
class GateInputs:
    """One version's numbers on the held-out queries (higher is better for both metrics)."""

    recall_at_k: float
    auc: float
    queries: int


@dataclass(frozen=True)
class GateVerdict:
    """Whether the fine-tuned candidate replaces the serving version, and why, in numbers."""

    reason: GateReason
    message: str

    @property
    def accepted(self) -> bool:
        return self.reason == "Promoted"


def passes_gate(before: Mapping[str, float], after: Mapping[str, float], tolerance: float) -> bool:
    """Higher-is-better metrics: a new version may lose at most `tolerance` (absolute) on each."""
    return all(after[name] >= before[name] - tolerance for name in before)


def gate_verdict(serving: GateInputs, candidate: GateInputs, config: FineTuneConfig) -> GateVerdict:
    """Both versions are measured on the same held-out queries; too few of them decide nothing."""
    queries = candidate.queries
    if queries < config.min_eval_queries:
        return GateVerdict(
            "TooLittleEvidence",
            f"evaluated on {queries} held-out queries, fewer than spec.models.fineTune.minEvalQueries "
            f"({config.min_eval_queries}): the serving version stays",
        )
    before = {"recall@100": serving.recall_at_k, "AUC": serving.auc}
    after = {"recall@100": candidate.recall_at_k, "AUC": candidate.auc}
    compared = ", ".join(f"{n} {after[n]:.3f} vs serving {before[n]:.3f}" for n in before)
    if passes_gate(before, after, config.regression_tolerance):
        return GateVerdict("Promoted", f"{compared} on {queries} held-out queries")
    return GateVerdict(
        "Regressed",
        f"{compared} on {queries} held-out queries: a drop beyond spec.models.fineTune.regressionTolerance "
        f"({config.regression_tolerance}); the serving version stays",
    )


def gate_metrics(serving: GateInputs, candidate: GateInputs, config: FineTuneConfig) -> dict[str, float]:
    """What the fine-tune step logs (KFP metrics are numbers) so the verdict can be rebuilt from them."""
    return {
        "recall_at_k": candidate.recall_at_k,
        "auc": candidate.auc,
        "queries": float(candidate.queries),
        "serving_recall_at_k": serving.recall_at_k,
        "serving_auc": serving.auc,
        "min_queries": float(config.min_eval_queries),
        "tolerance": float(config.regression_tolerance),
    }


def verdict_from_metrics(metrics: Mapping[str, object]) -> GateVerdict | None:
    """The gate's verdict from a run's logged metrics; None when the run had no gate (initial runs)."""
    needed = (
        "recall_at_k",
        "auc",
        "queries",
        "serving_recall_at_k",
        "serving_auc",
        "min_queries",
        "tolerance",
    )
    values = {k: metrics.get(k) for k in needed}
    if not all(isinstance(v, (int, float)) for v in values.values()):
        return None
    n = {k: float(v) for k, v in values.items()}  # type: ignore[arg-type]
    config = FineTuneConfig(min_eval_queries=int(n["min_queries"]), regression_tolerance=n["tolerance"])
    return gate_verdict(
        GateInputs(n["serving_recall_at_k"], n["serving_auc"], int(n["queries"])),
        GateInputs(n["recall_at_k"], n["auc"], int(n["queries"])),
        config,
    )
