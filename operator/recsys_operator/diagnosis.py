"""Why a component is not ready, from its pods and claims as the API server reports them (pure).

A condition that says only "0/1 ready" sends the user to `kubectl describe`; these functions
put the kubelet's or the provisioner's own words in the condition instead: an image that
cannot be pulled, a container that crash-loops (with its last exit), a pod the scheduler
cannot place, a claim no StorageClass can bind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

# kubelet's waiting reasons that do not clear by themselves: each becomes the condition's reason.
STUCK_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "RegistryUnavailable",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
MAX_MESSAGE = 600  # a condition message is read in `kubectl describe`, not a log


class Problem(BaseModel):
    """Why something is not ready: a CamelCase reason and the message an operator would act on."""

    model_config = ConfigDict(frozen=True)

    reason: str
    message: str


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _last_exit(status: Mapping[str, Any]) -> str:
    last = (status.get("lastState") or {}).get("terminated") or {}
    if not last:
        return ""
    said = (last.get("message") or "").strip()
    exit_code = last.get("exitCode")
    return f"; last exit {exit_code} ({last.get('reason', 'Error')})" + (f": {said}" if said else "")


def pod_problem(pod: Mapping[str, Any]) -> Problem | None:
    """The first thing that keeps this pod from running, or None (starting normally, or running)."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason = condition.get("reason") or "Unschedulable"
            return Problem(reason=reason, message=_clip(f"pod {name}: {condition.get('message', reason)}"))
    containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in STUCK_WAITING:
            said = waiting.get("message") or reason
            text = f"pod {name} container {container.get('name')}: {said}{_last_exit(container)}"
            return Problem(reason=reason, message=_clip(text))
    if status.get("phase") == "Failed":
        reason = status.get("reason") or "PodFailed"
        return Problem(reason=reason, message=_clip(f"pod {name}: {status.get('message', reason)}"))
    return None


def first_pod_problem(pods: Iterable[Mapping[str, Any]]) -> Problem | None:
    """Pods being deleted are on their way out (a rollout): they say nothing about the component."""
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if (problem := pod_problem(pod)) is not None:
            return problem
    return None


def claim_problem(
    claim: Mapping[str, Any] | None,
    name: str,
    events: Sequence[Mapping[str, Any]],
    storage_class_exists: bool | None,
) -> Problem | None:
    """Why PersistentVolumeClaim `name` is not Bound (None when it is, or is about to be created).

    `events` are the claim's own (the PV controller and provisioners explain themselves there),
    `storage_class_exists` is None when the claim names no class or it was not looked up.
    """
    if claim is None:
        return None
    phase = (claim.get("status") or {}).get("phase", "Pending")
    if phase == "Bound":
        return None
    if phase == "Lost":
        return Problem(reason="VolumeLost", message=f"PersistentVolumeClaim {name} lost its volume")
    klass = (claim.get("spec") or {}).get("storageClassName")
    if klass and storage_class_exists is False:
        return Problem(
            reason="StorageClassNotFound",
            message=f"PersistentVolumeClaim {name} is Pending: StorageClass {klass!r} does not exist "
            "(set the spec's storageClass to one this cluster has: kubectl get storageclass)",
        )
    latest = sorted(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    warnings = [e for e in latest if e.get("type") == "Warning"] or latest
    said = warnings[-1].get("message", "") if warnings else "no volume bound yet"
    return Problem(reason="VolumeNotBound", message=_clip(f"PersistentVolumeClaim {name} is Pending: {said}"))
