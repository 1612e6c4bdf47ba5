"""The termination message a training Job's pod leaves for the operator (pipelines/job.py)."""

from __future__ import annotations

from recsys_workloads.contracts.job import MAX_MESSAGE_BYTES, JobOutcome, slim_outputs


def test_an_outcome_round_trips_through_its_message() -> None:
    outcome = JobOutcome(state="FAILED", error="ValueError: bad", failed_step="prepare-data")
    assert JobOutcome.from_message(outcome.to_message()) == outcome


def test_a_huge_error_is_shortened_to_fit_the_kubelets_limit_and_the_outputs_survive() -> None:
    outcome = JobOutcome(state="FAILED", error="é" * 10_000, failed_step="fine-tune", outputs={"version": 0})
    message = outcome.to_message()
    assert len(message.encode()) <= MAX_MESSAGE_BYTES
    parsed = JobOutcome.from_message(message)
    assert parsed is not None and parsed.failed_step == "fine-tune" and parsed.outputs == {"version": 0}
    assert parsed.error is not None and parsed.error.endswith(" …")


def test_anything_else_in_a_termination_message_is_no_outcome() -> None:
    assert JobOutcome.from_message("") is None
    assert JobOutcome.from_message("Traceback (most recent call last):") is None
    assert JobOutcome.from_message('{"state": "MAYBE"}') is None


def test_outputs_keep_what_the_operator_reads_and_drop_pod_local_paths() -> None:
    outputs = {
        "metrics": {"path": "/tmp/run/metrics", "metadata": {"auc": 0.81}},
        "report": {"path": "/tmp/run/report.md", "metadata": {}},
        "version": 3,
        "accepted": True,
    }
    assert slim_outputs(outputs) == {"metrics": {"metadata": {"auc": 0.81}}, "version": 3, "accepted": True}
