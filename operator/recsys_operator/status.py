"""Observed state -> status conditions, as pure functions (KServe/cert-manager style).

Each component condition says what it waits for; `Ready` summarises them and names the
first one that is not ready; `Stalled` means the operator cannot make progress without a
change to the spec; `Reconciling` means it is working towards the spec.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from recsys_operator.api import recommender_system as rs
from recsys_operator.api.conditions import Condition, ConditionStatus, set_condition
from recsys_operator.api.recommender_system import ExperimentStatus, ModelStatus
from recsys_operator.diagnosis import Problem


class Observed(BaseModel):
    """What the operator read back from the cluster and the model volume."""

    model_config = ConfigDict(frozen=True)

    triton_desired: int
    triton_ready: int
    # Whether every Triton pod runs the current template (the version status names); None where
    # no Deployment controller reports it (local mode). Old pods of a first version serve only the
    # popularity path, so a rollout in progress is not ready.
    triton_rolled_out: bool | None = None
    valkey_provisioned: bool
    valkey_ready: bool
    # Pods (by component: "Triton", "event service") whose seen-filter layout is not spec.filtering's.
    old_filter_layout_pods: dict[str, int] = Field(default_factory=dict)
    model_version: int | None
    # Front doors; 0 desired means the spec runs none (defaults: not part of the picture).
    api_desired: int = 0
    api_ready: int = 0
    events_desired: int = 0
    events_ready: int = 0
    capacity_provider: str = "none"
    capacity_ready: bool = True
    capacity_message: str = ""
    suspended: bool = False
    # status.model as read back; None leaves the ModelUpToDate condition as promotion wrote it.
    model: ModelStatus | None = None
    # spec paths changed since the serving version was trained (reconcilers/built_with.py)
    trained_spec_changes: tuple[str, ...] = ()
    # Why a component that is not ready is stuck (its pods, claims or training), by condition type.
    blockers: dict[str, Problem] = Field(default_factory=dict)
    # Secrets the spec names that are missing or lack their key, by condition type: the component is
    # not ready whatever its replica counts say (old pods may still serve, without the new Secret).
    secret_problems: dict[str, Problem] = Field(default_factory=dict)


ComponentState = tuple[str, bool, str, str]  # type, ready, reason, message


def _feature_store(o: Observed) -> ComponentState:
    if not o.valkey_provisioned:
        return rs.FEATURE_STORE_READY, True, "ExternalValkey", "using the configured Valkey address"
    if o.valkey_ready:
        return rs.FEATURE_STORE_READY, True, "ValkeyReady", "provisioned Valkey is ready"
    return rs.FEATURE_STORE_READY, False, "ValkeyNotReady", "waiting for the provisioned Valkey pod"


def _index(o: Observed) -> ComponentState:
    if o.model_version is None:
        return (
            rs.INDEX_READY,
            False,
            "AwaitingTraining",
            "no model version yet: the initial TrainingRun builds it",
        )
    return rs.INDEX_READY, True, "IndexBuilt", f"model version {o.model_version} holds the FAISS index"


def _filters(o: Observed) -> ComponentState:
    lagging = [f"{n} {what} pod(s)" for what, n in o.old_filter_layout_pods.items() if n]
    if lagging:
        return (
            rs.FILTERS_READY,
            False,
            "LayoutRollingOut",
            f"{' and '.join(lagging)} still use an earlier spec.filtering layout: until they are replaced, "
            "seen items written under one layout are not found under the other",
        )
    return (
        rs.FILTERS_READY,
        True,
        "LayoutCurrent",
        "every event-service pod (the writers) and Triton pod (the readers) uses spec.filtering's seen-filter layout",
    )


def _serving(o: Observed) -> ComponentState:
    replicas = f"{o.triton_ready}/{o.triton_desired} Triton replicas ready"
    if o.triton_desired == 0:
        return rs.SERVING_READY, False, "ScaledToZero", replicas
    if o.triton_ready < o.triton_desired:
        return rs.SERVING_READY, False, "TritonNotReady", replicas
    if o.triton_rolled_out is False:
        version = "none" if o.model_version is None else str(o.model_version)
        return (
            rs.SERVING_READY,
            False,
            "RollingOut",
            f"{replicas}; pods are being replaced by ones on the current template (model version {version})",
        )
    return rs.SERVING_READY, True, "TritonReady", replicas


def _replicas(type_: str, what: str, desired: int, ready: int, field: str) -> ComponentState:
    prefix = type_.removesuffix("Ready")
    if desired == 0:
        return type_, True, "Disabled", f"{field} is 0: the operator runs no {what}"
    counts = f"{ready}/{desired} {what} replicas ready"
    if ready >= desired:
        return type_, True, f"{prefix}Ready", counts
    return type_, False, f"{prefix}NotReady", counts


def _api(o: Observed) -> ComponentState:
    return _replicas(rs.API_READY, "API", o.api_desired, o.api_ready, "spec.api.replicas")


def _event_service(o: Observed) -> ComponentState:
    return _replicas(
        rs.EVENT_SERVICE_READY, "event service", o.events_desired, o.events_ready, "spec.events.replicas"
    )


def _capacity(o: Observed) -> ComponentState:
    if o.capacity_provider == "none":
        return rs.CAPACITY_READY, True, "NotManaged", "spec.capacity.provider is none"
    if o.capacity_ready:
        return rs.CAPACITY_READY, True, "CapacityReady", o.capacity_message or o.capacity_provider
    return rs.CAPACITY_READY, False, "CapacityPending", o.capacity_message or o.capacity_provider


def component_states(observed: Observed) -> list[ComponentState]:
    """Each component's state; a known blocker replaces the generic reason and leads the message."""
    states = []
    for state in (
        f(observed) for f in (_feature_store, _index, _filters, _serving, _api, _event_service, _capacity)
    ):
        type_, ready, _, message = state
        if (secret := observed.secret_problems.get(type_)) is not None:
            states.append((type_, False, secret.reason, f"{secret.message} ({message})"))
            continue
        blocker = observed.blockers.get(type_)
        states.append(
            (type_, ready, blocker.reason, f"{blocker.message} ({message})")
            if blocker and not ready
            else state
        )
    return states


def reconcile_conditions(
    current: Sequence[Condition], observed: Observed, generation: int, at: dt.datetime | None = None
) -> list[Condition]:
    """Component conditions, Ready, Reconciling and Stalled for a valid spec."""
    conditions = list(current)
    states = component_states(observed)
    for type_, ready, reason, message in states:
        status: ConditionStatus = "True" if ready else "False"
        conditions = set_condition(conditions, type_, status, reason, message, generation, at)
    waiting = [(t, reason, message) for t, ready, reason, message in states if not ready]
    if observed.suspended:
        conditions = set_condition(
            conditions, rs.READY, "False", "Suspended", "spec.suspend is true", generation, at
        )
        conditions = set_condition(conditions, rs.RECONCILING, "False", "Suspended", "", generation, at)
    elif waiting:
        first, reason, message = waiting[0]
        conditions = set_condition(
            conditions, rs.READY, "False", reason, f"{first}: {message}", generation, at
        )
        conditions = set_condition(
            conditions, rs.RECONCILING, "True", "Progressing", f"waiting for {first}", generation, at
        )
    else:
        conditions = set_condition(conditions, rs.READY, "True", "AllComponentsReady", "", generation, at)
        conditions = set_condition(
            conditions, rs.RECONCILING, "False", "ReconcileSucceeded", "", generation, at
        )
    conditions = set_condition(conditions, rs.STALLED, "False", "SpecValid", "", generation, at)
    if observed.model is None:
        return conditions
    return model_conditions(conditions, observed.model, generation, at, observed.trained_spec_changes)


def model_state(model: ModelStatus, spec_changes: Sequence[str] = ()) -> tuple[bool, str, str]:
    """Does the newest trained version serve? (ready, reason, message) of `ModelUpToDate`.

    `spec_changes`: training-time fields edited since the serving version was built. The
    version is still the newest, so the condition stays True; its reason says the spec is ahead.
    """
    current, latest = model.current_version, model.latest_version
    serves = f"version {current} serves"
    if model.transition == "BlockedByFailedLoad":
        return False, "BlockedByFailedLoad", model.message or f"a new version failed to load; {serves}"
    if model.transition == "InProgress":
        return False, "RollingOut", model.message or f"a new version is rolling out; {serves}"
    if current is None:
        return False, "NoVersion", "no model version serves yet"
    if latest is not None and latest > current:
        return False, "AwaitingPromotion", f"version {latest} is trained (promote: Manual); {serves}"
    if spec_changes:
        fields = ", ".join(f"spec.{path}" for path in spec_changes)
        return (
            True,
            "SpecChangedSinceTraining",
            f"{serves}; {fields} changed since it was trained: they take effect at the next training run (models, retrieval and windowDays at the next Initial one)",
        )
    return True, "UpToDate", serves


def model_conditions(
    current: Sequence[Condition],
    model: ModelStatus,
    generation: int,
    at: dt.datetime | None = None,
    spec_changes: Sequence[str] = (),
) -> list[Condition]:
    """The whole condition list with `ModelUpToDate` set from `status.model`."""
    ready, reason, message = model_state(model, spec_changes)
    status: ConditionStatus = "True" if ready else "False"
    return set_condition(current, rs.MODEL_UP_TO_DATE, status, reason, message, generation, at)


def invalid_spec_conditions(
    current: Sequence[Condition], problems: Sequence[str], generation: int, at: dt.datetime | None = None
) -> list[Condition]:
    """A spec the operator cannot act on: Stalled, not Ready, nothing changed in the cluster."""
    message = "; ".join(problems)
    conditions = set_condition(current, rs.STALLED, "True", "InvalidSpec", message, generation, at)
    conditions = set_condition(conditions, rs.RECONCILING, "False", "InvalidSpec", "", generation, at)
    return set_condition(conditions, rs.READY, "False", "InvalidSpec", message, generation, at)


def api_refusal_reason(code: int | None, permanent: bool) -> str:
    """The condition reason for a call the API server refused (`code`) or never answered (None)."""
    if code is None:
        return "ApiServerUnreachable"
    if code in (401, 403):
        return "Forbidden"
    return "ChildRejected" if permanent else "ApiServerError"


def api_refusal_conditions(
    current: Sequence[Condition],
    code: int | None,
    permanent: bool,
    message: str,
    generation: int,
    at: dt.datetime | None = None,
) -> list[Condition]:
    """A child the API server would not take: Ready False naming it, at once.

    A permanent refusal (invalid object, forbidden) is `Stalled`: retrying the same request
    fails the same way until the spec, the RBAC or an admission policy changes. A server
    error or no answer is `Reconciling`: the next pass retries. Component conditions keep
    what was last observed.
    """
    reason = api_refusal_reason(code, permanent)
    conditions = set_condition(current, rs.READY, "False", reason, message, generation, at)
    if permanent:
        conditions = set_condition(conditions, rs.STALLED, "True", reason, message, generation, at)
        return set_condition(conditions, rs.RECONCILING, "False", reason, "", generation, at)
    conditions = set_condition(conditions, rs.STALLED, "False", "SpecValid", "", generation, at)
    return set_condition(conditions, rs.RECONCILING, "True", reason, f"retrying: {message}", generation, at)


def experiment_conditions(
    current: Sequence[Condition],
    experiment: ExperimentStatus | None,
    problems: Sequence[str],
    promote: str,
    generation: int,
    at: dt.datetime | None = None,
) -> list[Condition]:
    """ExperimentConcluded (not part of Ready): True once decided, False while running or unservable;
    gone when the spec has no experiment."""
    if experiment is None and not problems:
        return [c for c in current if c.type != rs.EXPERIMENT_CONCLUDED]
    if problems or experiment is None:
        message = "; ".join(problems) + ": everyone is served the current version meanwhile"
        return set_condition(
            current, rs.EXPERIMENT_CONCLUDED, "False", "ArmNotServable", message, generation, at
        )
    if experiment.phase == "Running":
        return set_condition(
            current, rs.EXPERIMENT_CONCLUDED, "False", experiment.reason, experiment.message, generation, at
        )
    then = (
        f"{experiment.winner} now serves everyone"
        if promote == "Auto"
        else "promote: Manual: the split continues until spec.experiment changes"
    )
    return set_condition(
        current,
        rs.EXPERIMENT_CONCLUDED,
        "True",
        experiment.reason,
        f"winner {experiment.winner}: {experiment.message}; {then}",
        generation,
        at,
    )
