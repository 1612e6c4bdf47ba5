"""What a succeeded TrainingRun means for its recommender's serving version.

`plan` is the whole policy, as a pure function of the run and the parent's `status.model`:
only a version newer than any the parent has seen is acted on (versions only grow, since
the pipelines publish the next number), so re-running it after an operator restart, or
for old runs, changes nothing. `promote: Manual` records the version; `Auto` switches
Triton to it. `promote` runs the plan with the adapters injected and returns the status
patch and the Event for the parent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from recsys_operator.api.conditions import Condition
from recsys_operator.api.recommender_system import ModelStatus
from recsys_operator.status import model_conditions
from recsys_workloads.contracts.rollout import RolloutResult

Action = Literal["none", "record", "switch"]


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: Action
    version: int | None = None
    reason: str = ""


class Event(BaseModel):
    """A Kubernetes Event on the parent RecommenderSystem."""

    model_config = ConfigDict(frozen=True)

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


class Switcher(Protocol):
    """Switches every ready Triton of a recommender to a version (adapters/triton.py).

    Returns None when no Triton pod serves a model version to switch from (none ready,
    or none trained yet): the pods then start on the version their template names.
    """

    def switch(self, version: int) -> RolloutResult | None: ...


def plan(promote: str, run_state: str | None, produced: int | None, model: ModelStatus) -> Plan:
    if run_state != "SUCCEEDED":
        return Plan(action="none", reason=f"the run is {run_state or 'not started'}")
    if produced is None:
        return Plan(
            action="none", reason="the run published no version (an incremental run whose gate failed)"
        )
    known = [v for v in (model.latest_version, model.current_version) if v is not None]
    if known and produced <= max(known):
        return Plan(action="none", version=produced, reason=f"version {produced} is already known")
    if promote == "Manual":
        return Plan(action="record", version=produced, reason="promote is Manual")
    return Plan(action="switch", version=produced, reason="promote is Auto")


def in_progress(model: ModelStatus, version: int) -> ModelStatus:
    """Written before Triton is touched; `latestVersion` waits, so a restart plans the switch again."""
    return model.model_copy(
        update={"transition": "InProgress", "message": f"switching Triton to version {version}"}
    )


def recorded(model: ModelStatus, version: int) -> ModelStatus:
    return model.model_copy(update={"latest_version": version})


def switched(
    model: ModelStatus,
    version: int,
    result: RolloutResult | None,
    built_with: Mapping[str, str] | None = None,
) -> ModelStatus:
    """The model status after a switch (None: no pod to switch, the Deployment brings it).

    `built_with`: the producing run's `status.builtWith`, now what serves.
    """
    if result is not None and result.transition != "UpToDate":
        return model.model_copy(
            update={"latest_version": version, "transition": "BlockedByFailedLoad", "message": result.message}
        )
    previous = model.current_version if model.current_version != version else model.previous_version
    message = (
        f"no Triton pod served a version: pods start on version {version}"
        if result is None
        else f"version {version} serves (was {model.current_version})"
    )
    return ModelStatus(
        current_version=version,
        previous_version=previous,
        latest_version=version,
        transition="UpToDate",
        message=message,
        built_with=dict(built_with or {}),
    )


def event(plan: Plan, model: ModelStatus) -> Event:
    if plan.action == "record":
        return Event(
            type="Normal",
            reason="ModelVersionRecorded",
            message=f"version {plan.version} is trained; promote is Manual, so version {model.current_version} serves",
        )
    if model.transition == "BlockedByFailedLoad":
        return Event(type="Warning", reason="BlockedByFailedLoad", message=model.message or "")
    return Event(type="Normal", reason="ModelVersionPromoted", message=model.message or "")


def status_patch(conditions: Sequence[Condition], model: ModelStatus, generation: int) -> dict[str, Any]:
    """`status.model` (nulls clear old fields in a merge patch) and the whole condition list."""
    return {
        "model": model.model_dump(mode="json", by_alias=True),
        "conditions": [c.to_spec() for c in model_conditions(conditions, model, generation)],
    }


PatchStatus = Callable[[dict[str, Any]], None]  # merge-patches the parent's status


def promote(
    promote_policy: str,
    run_status: Mapping[str, Any],
    parent: Mapping[str, Any],
    produced: int | None,
    switcher: Switcher,
    patch_parent: PatchStatus,
) -> Event | None:
    """Carry out the plan: patch the parent (before and after a switch); the Event to post, if any."""
    status = parent.get("status") or {}
    model = ModelStatus.model_validate(status.get("model") or {})
    decided = plan(promote_policy, run_status.get("state"), produced, model)
    if decided.action == "none" or decided.version is None:
        return None
    conditions = [Condition.model_validate(c) for c in status.get("conditions") or []]
    generation = int((parent.get("metadata") or {}).get("generation") or 0)
    if decided.action == "record":
        after = recorded(model, decided.version)
    else:
        rolling = in_progress(model, decided.version)
        patch_parent(status_patch(conditions, rolling, generation))
        conditions = model_conditions(conditions, rolling, generation)
        built = run_status.get("builtWith") or {}
        after = switched(model, decided.version, switcher.switch(decided.version), built)
    patch_parent(status_patch(conditions, after, generation))
    return event(decided, after)
