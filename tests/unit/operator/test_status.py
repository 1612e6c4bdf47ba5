"""Status conditions computed from observed state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from recsys_operator.api.conditions import Condition, find
from recsys_operator.status import Observed, component_states, invalid_spec_conditions, reconcile_conditions

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
HEALTHY = {
    "triton_desired": 1,
    "triton_ready": 1,
    "valkey_provisioned": True,
    "valkey_ready": True,
    "model_version": 3,
}


def _conditions(
    at: dt.datetime = T0, current: list[Condition] | None = None, **changes: Any
) -> list[Condition]:
    return reconcile_conditions(current or [], Observed(**{**HEALTHY, **changes}), generation=2, at=at)


def _get(conditions: list[Condition], type_: str) -> Condition:
    found = find(conditions, type_)
    assert found is not None
    return found


def test_all_components_ready_makes_ready_true_and_not_reconciling() -> None:
    conditions = _conditions()
    assert _get(conditions, "Ready").status == "True"
    assert _get(conditions, "Reconciling").status == "False"
    assert _get(conditions, "Stalled").status == "False"
    assert {c.observed_generation for c in conditions} == {2}


def test_ready_names_the_first_component_it_waits_for() -> None:
    ready = _get(_conditions(model_version=None), "Ready")
    assert (ready.status, ready.reason) == ("False", "AwaitingTraining")
    assert ready.message.startswith("IndexReady:")
    assert _get(_conditions(model_version=None), "Reconciling").status == "True"


def test_triton_replicas_not_ready_is_reported_with_counts() -> None:
    serving = _get(_conditions(triton_desired=2, triton_ready=1), "ServingReady")
    assert (serving.status, serving.reason, serving.message) == (
        "False",
        "TritonNotReady",
        "1/2 Triton replicas ready",
    )


def test_external_valkey_counts_as_ready_without_a_pod() -> None:
    store = _get(_conditions(valkey_provisioned=False, valkey_ready=False), "FeatureStoreReady")
    assert (store.status, store.reason) == ("True", "ExternalValkey")


def test_suspend_reports_not_ready_for_that_reason() -> None:
    ready = _get(_conditions(suspended=True), "Ready")
    assert (ready.status, ready.reason) == ("False", "Suspended")


def test_ready_keeps_its_transition_time_while_it_stays_true() -> None:
    first = _conditions(at=T0)
    second = _conditions(at=T1, current=first)
    assert _get(second, "Ready").last_transition_time == T0
    degraded = _conditions(at=T1, current=first, triton_ready=0)
    assert _get(degraded, "Ready").last_transition_time == T1


def test_an_invalid_spec_stalls_with_every_problem_in_the_message() -> None:
    conditions = invalid_spec_conditions([], ["spec.a is wrong", "spec.b is wrong"], generation=4, at=T0)
    stalled = _get(conditions, "Stalled")
    assert (stalled.status, stalled.reason) == ("True", "InvalidSpec")
    assert stalled.message == "spec.a is wrong; spec.b is wrong"
    assert _get(conditions, "Ready").status == "False"


def test_a_triton_rollout_in_progress_is_not_ready_and_says_so() -> None:
    """The first version's pods replace popularity-only ones: until then the ensemble is not served."""
    from recsys_operator.reconcilers.recommender_system import rolled_out

    rolling = {
        "metadata": {"generation": 3},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 3,
            "replicas": 2,
            "updatedReplicas": 1,
            "readyReplicas": 1,
            "availableReplicas": 1,
        },
    }
    done = {**rolling, "status": {**rolling["status"], "replicas": 1}}
    unseen = {**done, "metadata": {"generation": 4}}
    assert (rolled_out(rolling), rolled_out(done), rolled_out(unseen)) == (False, True, False)
    assert rolled_out({"metadata": {}, "status": {"readyReplicas": 1}}) is None  # local mode: no controller
    observed = Observed(
        triton_desired=1, triton_ready=1, triton_rolled_out=False, valkey_provisioned=False,
        valkey_ready=True, model_version=1,
    )  # fmt: skip
    state = {t: (ready, reason, message) for t, ready, reason, message in component_states(observed)}
    ready, reason, message = state["ServingReady"]
    assert (ready, reason) == (False, "RollingOut") and "model version 1" in message


def test_pods_on_an_earlier_filter_layout_hold_filters_ready_false_and_say_how_many() -> None:
    lagging = _get(_conditions(old_filter_layout_pods={"event service": 0, "Triton": 2}), "FiltersReady")
    assert (lagging.status, lagging.reason) == ("False", "LayoutRollingOut")
    assert lagging.message.startswith("2 Triton pod(s) still use") and "event service" not in lagging.message
    assert _get(_conditions(old_filter_layout_pods={"Triton": 0}), "FiltersReady").status == "True"
    assert _get(_conditions(old_filter_layout_pods={"Triton": 2}), "Ready").status == "False"
