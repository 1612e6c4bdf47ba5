"""The operator's `Cluster` port, kept in the local state instead of a Kubernetes API server.

The RecommenderSystem reconcile runs unchanged against it: it applies its child objects
(stored as they are), reads them back, and derives conditions from their status. Local
mode realises the workloads as processes, so a Deployment's or StatefulSet's
`readyReplicas` is what the process for its component answers, not what a kubelet says.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from recsys_local.mode.state import LocalState
from recsys_operator.adapters.kube import KindNotServedError
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests.common import Manifest
from recsys_operator.reconcilers.recommender_system import secret_uses

COMPONENT_LABEL = "app.kubernetes.io/component"
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
# No Prometheus operator in local mode: its kinds are refused as on a cluster without its CRDs
# (the processes' /metrics and Triton's metrics port are scraped directly, docs/monitoring.md).
NOT_SERVED_GROUPS = ("monitoring.coreos.com/",)


def object_key(api_version: str, kind: str, name: str, namespace: str | None) -> str:
    return f"{api_version}/{kind}/{namespace or ''}/{name}"


class LocalCluster:
    """Objects in `state.objects`; `ready(component)` says whether a workload's process serves."""

    def __init__(self, state: LocalState, ready: Callable[[str], bool]) -> None:
        self.state = state
        self.ready = ready

    def apply(self, manifest: Manifest) -> Manifest:
        if manifest["apiVersion"].startswith(NOT_SERVED_GROUPS):
            raise KindNotServedError(
                f"{manifest['kind']}.{manifest['apiVersion']} is not served in local mode"
            )
        meta = manifest["metadata"]
        key = object_key(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))
        previous = self.state.objects.get(key) or {}
        stored = copy.deepcopy(manifest)
        stored["status"] = previous.get("status") or {}
        # What an API server adds on create: identity and age (TrainingRun names derive from uid).
        kept = previous.get("metadata") or {}
        stored["metadata"]["uid"] = kept.get("uid") or str(uuid.uuid4())
        stored["metadata"]["creationTimestamp"] = kept.get("creationTimestamp") or _now()
        stored["metadata"]["generation"] = int(kept.get("generation") or 1)
        self.state.objects[key] = stored
        return copy.deepcopy(stored)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None:
        if kind == "Secret":
            return self._secret(name)
        found = self.state.objects.get(object_key(api_version, kind, name, namespace))
        if found is None:
            return None
        found = copy.deepcopy(found)
        if kind in WORKLOAD_KINDS:
            component = found["metadata"].get("labels", {}).get(COMPONENT_LABEL, "")
            replicas = int(found.get("spec", {}).get("replicas") or 1)
            found["status"] = {"readyReplicas": replicas if self.ready(component) else 0}
        return found

    def _secret(self, name: str) -> Manifest:
        """No Secrets here: the processes take tokens from local mode's environment (`system.local_guard`
        refuses to start without one), so every key the spec names under `name` reads as present."""
        spec = RecommenderSystemSpec.model_validate(self.state.spec)
        keys = {key for uses in secret_uses(spec).values() for n, key, _ in uses if n == name}
        return {"metadata": {"name": name}, "data": dict.fromkeys(keys, "bG9jYWw=")}

    def select(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        label_selector: dict[str, str] | None = None,
        field_selector: dict[str, str] | None = None,
    ) -> list[Manifest]:
        """No pods, claims or events here: a process's health is `ready`, and no kubelet explains it."""
        return []

    def hpa_api_version(self) -> str:
        return "autoscaling/v2"

    def patch_status(self, api_version: str, kind: str, name: str, namespace: str, status: Manifest) -> None:
        if kind == "RecommenderSystem" and name == self.state.name:
            self.state.status = _merge(self.state.status, status)
            return
        key = object_key(api_version, kind, name, namespace)
        if key in self.state.objects:
            self.state.objects[key]["status"] = _merge(self.state.objects[key].get("status") or {}, status)

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        return self.state.objects.pop(object_key(api_version, kind, name, namespace), None) is not None

    def objects_of(self, kind: str) -> list[Manifest]:
        return [copy.deepcopy(o) for o in self.state.objects.values() if o.get("kind") == kind]


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7386): what `patch_status` means on a real API server."""
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
