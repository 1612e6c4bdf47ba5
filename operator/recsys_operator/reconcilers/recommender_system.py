"""One pass over a RecommenderSystem: validate, apply owned objects, observe, compute status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from recsys_operator.adapters.kube import Cluster
from recsys_operator.api.conditions import Condition
from recsys_operator.api.recommender_system import RecommenderSystemSpec, validate
from recsys_operator.manifests import training, triton, valkey
from recsys_operator.manifests.common import Owner
from recsys_operator.manifests.desired import desired_objects
from recsys_operator.status import Observed, invalid_spec_conditions, reconcile_conditions


def spec_problems(raw_spec: Mapping[str, Any]) -> tuple[RecommenderSystemSpec | None, list[str]]:
    """The parsed spec, or messages naming each offending field (`spec.a.b: ...`)."""
    try:
        spec = RecommenderSystemSpec.model_validate(raw_spec)
    except ValidationError as exc:
        return None, [
            f"spec.{'.'.join(str(part) for part in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
    return spec, validate(spec)


def _ready_replicas(obj: Mapping[str, Any] | None) -> int:
    return int(((obj or {}).get("status") or {}).get("readyReplicas") or 0)


def observe(
    cluster: Cluster, owner: Owner, spec: RecommenderSystemSpec, status: Mapping[str, Any]
) -> Observed:
    deployment = cluster.get("apps/v1", "Deployment", owner.child_name(triton.COMPONENT), owner.namespace)
    desired = int(((deployment or {}).get("spec") or {}).get("replicas") or spec.serving.replicas)
    store = (
        cluster.get("apps/v1", "StatefulSet", owner.child_name(valkey.COMPONENT), owner.namespace)
        if valkey.provisioned(spec)
        else None
    )
    online = cluster.get("v1", "ConfigMap", owner.child_name("online-config"), owner.namespace)
    model = status.get("model") or {}
    return Observed(
        triton_desired=desired,
        triton_ready=_ready_replicas(deployment),
        valkey_provisioned=valkey.provisioned(spec),
        valkey_ready=_ready_replicas(store) >= 1,
        filters_published=online is not None,
        model_version=model.get("currentVersion"),
        capacity_provider=spec.capacity.provider,
        suspended=spec.suspend,
    )


def reconcile(body: Mapping[str, Any], cluster: Cluster) -> dict[str, Any]:
    """Apply what the spec asks for and return the new `.status` (conditions as whole lists)."""
    meta = body["metadata"]
    status = body.get("status") or {}
    generation = int(meta.get("generation") or 0)
    current = [Condition.model_validate(c) for c in status.get("conditions") or []]
    spec, problems = spec_problems(body.get("spec") or {})
    extra: dict[str, Any] = {}
    if spec is None or problems:
        conditions = invalid_spec_conditions(current, problems, generation)
    else:
        owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
        if not spec.suspend:
            for manifest in desired_objects(owner, spec, cluster.hpa_api_version()):
                cluster.apply(manifest)
            if needs_initial_training(spec, status):
                cluster.apply(training.training_run(owner, training.initial_run_name(owner), "Initial"))
                extra["lastTrainingRun"] = training.initial_run_name(owner)
        conditions = reconcile_conditions(current, observe(cluster, owner, spec, status), generation)
    return {
        "observedGeneration": generation,
        "conditions": [c.to_spec() for c in conditions],
        **extra,
    }


def needs_initial_training(spec: RecommenderSystemSpec, status: Mapping[str, Any]) -> bool:
    """No model serves and no run was started: the first reconcile starts the initial run."""
    model = status.get("model") or {}
    return spec.training.initial and model.get("currentVersion") is None and not status.get("lastTrainingRun")
