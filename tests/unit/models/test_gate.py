"""The incremental gate: evidence first, then non-regression; the operator rebuilds the same verdict."""

from __future__ import annotations

import pytest

from recsys_workloads.contracts.gate import GateInputs, gate_metrics, gate_verdict, verdict_from_metrics
from recsys_workloads.contracts.models import FineTuneConfig

SERVING = GateInputs(recall_at_k=0.40, auc=0.80, queries=900)
CONFIG = FineTuneConfig(regression_tolerance=0.01, min_eval_queries=200)


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (GateInputs(0.395, 0.80, 900), "Promoted"),  # within the tolerance
        (GateInputs(0.45, 0.85, 900), "Promoted"),
        (GateInputs(0.38, 0.85, 900), "Regressed"),  # recall dropped
        (GateInputs(0.45, 0.70, 900), "Regressed"),  # AUC dropped
        (GateInputs(1.0, 1.0, 1), "TooLittleEvidence"),  # the case: 1 query, "perfect" scores
        (GateInputs(1.0, 1.0, 199), "TooLittleEvidence"),
        (GateInputs(0.40, 0.80, 200), "Promoted"),  # exactly the floor is enough
    ],
)
def test_the_gate_wants_enough_queries_then_no_regression(candidate: GateInputs, reason: str) -> None:
    verdict = gate_verdict(SERVING, candidate, CONFIG)
    assert verdict.reason == reason and verdict.accepted == (reason == "Promoted")
    assert f"{candidate.queries} held-out queries" in verdict.message


def test_a_refusal_says_what_was_measured_and_which_field_decides() -> None:
    few = gate_verdict(SERVING, GateInputs(1.0, 1.0, 1), CONFIG).message
    assert "spec.models.fineTune.minEvalQueries (200)" in few and "serving version stays" in few
    worse = gate_verdict(SERVING, GateInputs(0.30, 0.80, 900), CONFIG).message
    assert "recall@100 0.300 vs serving 0.400" in worse and "regressionTolerance (0.01)" in worse


@pytest.mark.parametrize(
    "candidate", [GateInputs(0.45, 0.85, 900), GateInputs(0.3, 0.8, 900), GateInputs(1, 1, 3)]
)
def test_the_operator_rebuilds_the_steps_verdict_from_its_logged_numbers(candidate: GateInputs) -> None:
    logged = {**gate_metrics(SERVING, candidate, CONFIG), "k": 100.0, "accepted": 0.0}
    assert verdict_from_metrics(logged) == gate_verdict(SERVING, candidate, CONFIG)


def test_an_initial_run_has_no_gate_verdict() -> None:
    assert verdict_from_metrics({"k": 100.0, "recall_at_k": 0.3, "auc": 0.8, "queries": 500.0}) is None
