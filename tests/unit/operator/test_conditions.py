"""Conditions follow metav1.Condition: transition time moves only with status."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from recsys_operator.api.conditions import Condition, find, is_true, set_condition

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)


def test_setting_a_new_condition_appends_it_with_the_given_time() -> None:
    conditions = set_condition([], "Ready", "False", "Reconciling", "starting", at=T0)
    assert [(c.type, c.status, c.last_transition_time) for c in conditions] == [("Ready", "False", T0)]


def test_same_status_keeps_the_transition_time_but_updates_reason_and_message() -> None:
    first = set_condition([], "Ready", "False", "IndexMissing", at=T0)
    second = set_condition(first, "Ready", "False", "ServingNotReady", "triton loading", at=T1)
    ready = find(second, "Ready")
    assert ready is not None
    assert ready.last_transition_time == T0
    assert (ready.reason, ready.message) == ("ServingNotReady", "triton loading")


def test_status_change_moves_the_transition_time() -> None:
    first = set_condition([], "Ready", "False", "IndexMissing", at=T0)
    second = set_condition(first, "Ready", "True", "AllComponentsReady", at=T1)
    assert find(second, "Ready") == second[0]
    assert second[0].last_transition_time == T1
    assert is_true(second, "Ready")


def test_other_conditions_and_their_order_are_kept() -> None:
    conditions = set_condition([], "Ready", "False", "Starting", at=T0)
    conditions = set_condition(conditions, "IndexReady", "True", "IndexBuilt", at=T0)
    conditions = set_condition(conditions, "Ready", "True", "AllComponentsReady", at=T1)
    assert [c.type for c in conditions] == ["Ready", "IndexReady"]
    assert not is_true(conditions, "ServingReady")


@pytest.mark.parametrize("reason", ["has spaces", "", "1Leading", "trailing-dash-"])
def test_reasons_must_be_camel_case_words(reason: str) -> None:
    with pytest.raises(ValidationError, match="reason"):
        Condition(type="Ready", status="True", reason=reason, last_transition_time=T0)


def test_conditions_serialise_in_kubernetes_spelling_without_empty_messages() -> None:
    condition = set_condition([], "Ready", "True", "AllComponentsReady", observed_generation=3, at=T0)[0]
    assert condition.to_spec() == {
        "type": "Ready",
        "status": "True",
        "reason": "AllComponentsReady",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 3,
    }
