"""One pass over a RecommenderSystem: validate, apply owned objects, observe, compute status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from redis.exceptions import RedisError

from recsys_operator.adapters.eks import CapacityState, EksNodeGroups
from recsys_operator.adapters.kube import Cluster, ClusterCallError, KindNotServedError
from recsys_operator.adapters.valkey import delete_namespace, read_arm_counters
from recsys_operator.api import API_VERSION
from recsys_operator.api import recommender_system as rs
from recsys_operator.api import training_run as tr
from recsys_operator.api.conditions import Condition
from recsys_operator.api.recommender_system import (
    ExperimentStatus,
    ModelStatus,
    RecommenderSystemSpec,
    validate,
)
from recsys_operator.diagnosis import Problem, claim_problem, first_pod_problem
from recsys_operator.manifests import api, capacity, events, monitoring, training, triton, valkey, web
from recsys_operator.manifests.common import Owner
from recsys_operator.manifests.desired import desired_objects
from recsys_operator.manifests.names import name_problems
from recsys_operator.reconcilers import built_with
from recsys_operator.reconcilers import experiment as experiments
from recsys_operator.status import (
    Observed,
    api_refusal_conditions,
    component_states,
    experiment_conditions,
    invalid_spec_conditions,
    reconcile_conditions,
)
from recsys_workloads.contracts.experiment import ArmCounters, ResolvedExperiment

# (Valkey URL, key namespace, experiment, arm names) -> each arm's counters
CounterReader = Callable[[str, str, str, Sequence[str]], dict[str, ArmCounters]]


def spec_problems(
    raw_spec: Mapping[str, Any], owner: Owner | None = None
) -> tuple[RecommenderSystemSpec | None, list[str]]:
    """The parsed spec, or messages naming each offending field (`spec.a.b: ...`); with `owner`,
    also whether its name fits every child name and label derived from it."""
    try:
        spec = RecommenderSystemSpec.model_validate(raw_spec)
    except ValidationError as exc:
        return None, [
            f"spec.{'.'.join(str(part) for part in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
    return spec, validate(spec) + (name_problems(owner, spec) if owner is not None else [])


def _ready_replicas(obj: Mapping[str, Any] | None) -> int:
    return int(((obj or {}).get("status") or {}).get("readyReplicas") or 0)


def rolled_out(deployment: Mapping[str, Any] | None) -> bool | None:
    """`kubectl rollout status`'s test: the controller saw the template, every pod runs it, old pods
    are gone and the new ones are available. None when no controller reports (local mode)."""
    status = (deployment or {}).get("status") or {}
    if deployment is None or "observedGeneration" not in status:
        return None
    desired = int((deployment.get("spec") or {}).get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    return (
        int(status["observedGeneration"]) >= int(deployment["metadata"].get("generation") or 0)
        and updated >= desired
        and int(status.get("replicas") or 0) <= updated
        and int(status.get("availableReplicas") or 0) >= desired
    )


def old_filter_layout_pods(cluster: Cluster, owner: Owner, spec: RecommenderSystemSpec) -> dict[str, int]:
    """Writers and readers of the seen filters whose pods carry another layout than the spec's."""
    ((annotation, current),) = web.seen_filter_layout(spec).items()
    counts = {}
    for component, what in ((events.COMPONENT, "event service"), (triton.COMPONENT, "Triton")):
        pods = cluster.select("v1", "Pod", owner.namespace, label_selector=owner.selector(component))
        counts[what] = sum(
            1
            for pod in pods
            if ((pod.get("metadata") or {}).get("annotations") or {}).get(annotation) != current
        )
    return counts


EksFactory = Callable[[], EksNodeGroups]


def reconcile_capacity(
    cluster: Cluster, owner: Owner, spec: RecommenderSystemSpec, eks: EksFactory
) -> CapacityState:
    cap = spec.capacity
    if cap.provider == "none":
        return CapacityState(ready=True, message="not managed")
    if cap.provider == "karpenter":
        pool = capacity.node_pool(owner, spec)
        try:
            cluster.apply(pool)
        except KindNotServedError:
            return CapacityState(
                ready=False, message="Karpenter is not installed (no karpenter.sh/v1 NodePool)"
            )
        return CapacityState(
            ready=True, message=f"NodePool {pool['metadata']['name']}: at most {cap.max_nodes} GPUs"
        )
    assert cap.cluster_name and cap.node_group  # validate() requires both
    try:
        return eks().reconcile(cap.cluster_name, cap.node_group, cap.min_nodes, cap.max_nodes)
    except (BotoCoreError, ClientError) as exc:
        return CapacityState(ready=False, message=f"EKS: {exc}")


def observe(
    cluster: Cluster,
    owner: Owner,
    spec: RecommenderSystemSpec,
    status: Mapping[str, Any],
    capacity_state: CapacityState,
) -> Observed:
    deployment = cluster.get("apps/v1", "Deployment", owner.child_name(triton.COMPONENT), owner.namespace)
    desired = int(((deployment or {}).get("spec") or {}).get("replicas") or spec.serving.replicas)
    store = (
        cluster.get("apps/v1", "StatefulSet", owner.child_name(valkey.COMPONENT), owner.namespace)
        if valkey.provisioned(spec)
        else None
    )
    api_deployment = cluster.get("apps/v1", "Deployment", owner.child_name(api.COMPONENT), owner.namespace)
    event_set = cluster.get("apps/v1", "StatefulSet", owner.child_name(events.COMPONENT), owner.namespace)
    model = status.get("model") or {}
    serving = ModelStatus.model_validate(model)
    observed = Observed(
        triton_desired=desired,
        triton_ready=_ready_replicas(deployment),
        triton_rolled_out=rolled_out(deployment),
        valkey_provisioned=valkey.provisioned(spec),
        valkey_ready=_ready_replicas(store) >= 1,
        old_filter_layout_pods=old_filter_layout_pods(cluster, owner, spec),
        api_desired=spec.api.replicas,
        api_ready=_ready_replicas(api_deployment),
        events_desired=spec.events.replicas,
        events_ready=_ready_replicas(event_set),
        model_version=model.get("currentVersion"),
        model=serving,
        trained_spec_changes=tuple(built_with.changed_since_training(serving.built_with, spec)),
        capacity_provider=spec.capacity.provider,
        capacity_ready=capacity_state.ready,
        capacity_message=capacity_state.message,
        suspended=spec.suspend,
        secret_problems=secret_problems(cluster, owner, spec),
    )
    waiting = {t for t, ready, _, _ in component_states(observed) if not ready}
    return observed.model_copy(update={"blockers": blockers(cluster, owner, spec, status, waiting)})


SecretUse = tuple[str, str, str]  # Secret name, key, the spec field naming it


def secret_uses(spec: RecommenderSystemSpec) -> dict[str, list[SecretUse]]:
    """Condition -> the Secret keys its pods' environment takes (`valueFrom.secretKeyRef`)."""
    password = spec.feature_store.online_store.password_secret_ref
    shared = [(password, "password", "spec.featureStore.onlineStore.passwordSecretRef")] if password else []
    api_ref, events_ref = spec.api.auth.token_secret_ref, spec.events.auth.token_secret_ref
    events_token = (
        [(events_ref.name, events_ref.key, "spec.events.auth.tokenSecretRef")] if events_ref else []
    )
    uses: dict[str, list[SecretUse]] = {}
    if spec.api.replicas:
        api_token = [(api_ref.name, api_ref.key, "spec.api.auth.tokenSecretRef")] if api_ref else []
        uses[rs.API_READY] = [*api_token, *(events_token if spec.events.replicas else []), *shared]
    if spec.events.replicas:
        uses[rs.EVENT_SERVICE_READY] = [*events_token, *shared]
    return {condition: found for condition, found in uses.items() if found}


def secret_problems(cluster: Cluster, owner: Owner, spec: RecommenderSystemSpec) -> dict[str, Problem]:
    """A Secret (or key) the spec names that is missing or empty: the kubelet would not start the pods
    (CreateContainerConfigError) or the service would refuse to, so the condition says which, up front."""
    found: dict[str, Problem] = {}
    read: dict[str, Mapping[str, Any] | None] = {}
    for condition, uses in secret_uses(spec).items():
        for name, key, field in uses:
            if name not in read:
                read[name] = cluster.get("v1", "Secret", name, owner.namespace)
            secret = read[name]
            where = f"Secret {name} ({field}) in namespace {owner.namespace}"
            if secret is None:
                found[condition] = Problem(
                    reason="SecretNotFound", message=f"{where} does not exist: create it with key {key!r}"
                )
                break
            data = {**(secret.get("data") or {}), **(secret.get("stringData") or {})}
            if not data.get(key):
                what = "has no key" if key not in data else "has an empty value under"
                found[condition] = Problem(reason="SecretKeyMissing", message=f"{where} {what} {key!r}")
                break
    return found


def blockers(
    cluster: Cluster, owner: Owner, spec: RecommenderSystemSpec, status: Mapping[str, Any], waiting: set[str]
) -> dict[str, Problem]:
    """For each component condition in `waiting`: what its claims, pods or training say is wrong."""
    found: dict[str, Problem] = {}
    for condition, (component, claims) in workload_parts(owner, spec).items():
        if condition not in waiting:
            continue
        problem = next((p for c in claims if (p := _claim_problem(cluster, owner.namespace, c))), None)
        if problem is None:
            pods = cluster.select("v1", "Pod", owner.namespace, label_selector=owner.selector(component))
            problem = first_pod_problem(pods)
        if problem is not None:
            found[condition] = problem
    run = status.get("lastTrainingRun")
    if rs.INDEX_READY in waiting and run:
        problem = _training_problem(cluster.get(API_VERSION, tr.KIND, str(run), owner.namespace))
        if problem is not None:
            found[rs.INDEX_READY] = problem
    return found


def workload_parts(owner: Owner, spec: RecommenderSystemSpec) -> dict[str, tuple[str, list[str]]]:
    """Condition -> (component label of its pods, claims its pods mount)."""
    models = owner.child_name("models")
    parts = {
        rs.SERVING_READY: (triton.COMPONENT, [models]),
        rs.API_READY: (api.COMPONENT, []),
        rs.EVENT_SERVICE_READY: (events.COMPONENT, [events.log_claim_name(owner), models]),
    }
    if valkey.provisioned(spec):
        parts[rs.FEATURE_STORE_READY] = (valkey.COMPONENT, [valkey.data_claim_name(owner)])
    return parts


def _claim_problem(cluster: Cluster, namespace: str, name: str) -> Problem | None:
    claim = cluster.get("v1", "PersistentVolumeClaim", name, namespace)
    if claim is None or (claim.get("status") or {}).get("phase") == "Bound":
        return None
    klass = (claim.get("spec") or {}).get("storageClassName")
    exists = cluster.get("storage.k8s.io/v1", "StorageClass", klass, None) is not None if klass else None
    selector = {"involvedObject.kind": "PersistentVolumeClaim", "involvedObject.name": name}
    found = cluster.select("v1", "Event", namespace, field_selector=selector)
    return claim_problem(claim, name, found, exists)


def _training_problem(run: Mapping[str, Any] | None) -> Problem | None:
    """What keeps the training run the index waits on from producing a version, if anything."""
    if run is None:
        return None
    name = run["metadata"]["name"]
    conditions = {c.get("type"): c for c in (run.get("status") or {}).get("conditions") or []}
    failed, created = conditions.get(tr.FAILED) or {}, conditions.get(tr.CREATED) or {}
    running = conditions.get(tr.RUNNING) or {}
    if failed.get("status") == "True":
        return Problem(reason="TrainingFailed", message=f"TrainingRun {name}: {failed.get('message', '')}")
    for condition, reason in ((created, "TrainingNotStarted"), (running, "TrainingStalled")):
        if condition.get("status") in ("False", "Unknown") and condition.get("message"):
            said = f"{condition.get('reason')}: {condition['message']}"
            return Problem(reason=reason, message=f"TrainingRun {name}: {said}")
    return None


def reconcile(
    body: Mapping[str, Any],
    cluster: Cluster,
    eks: EksFactory = EksNodeGroups.from_environment,
    read_counters: CounterReader = read_arm_counters,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> dict[str, Any]:
    """Apply what the spec asks for and return the new `.status` (conditions as whole lists)."""
    meta = body["metadata"]
    status = body.get("status") or {}
    generation = int(meta.get("generation") or 0)
    current = [Condition.model_validate(c) for c in status.get("conditions") or []]
    owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
    spec, problems = spec_problems(body.get("spec") or {}, owner)
    extra: dict[str, Any] = {}
    if spec is None or problems:
        conditions = invalid_spec_conditions(current, problems, generation)
    else:
        served, judged, arm_problems = run_experiment(owner, spec, status, read_counters, now())
        extra["experiment"] = judged.to_spec() if judged is not None else None
        try:
            capacity_state = _apply(cluster, owner, spec, status, eks, started=extra, experiment=served)
            observed = observe(cluster, owner, spec, status, capacity_state)
            conditions = reconcile_conditions(current, observed, generation)
        except ClusterCallError as exc:
            conditions = api_refusal_conditions(current, exc.code, exc.permanent, str(exc), generation)
        promote = spec.experiment.promote if spec.experiment else "Manual"
        conditions = experiment_conditions(conditions, judged, arm_problems, promote, generation)
    return {
        "observedGeneration": generation,
        "conditions": [c.to_spec() for c in conditions],
        **extra,
    }


def run_experiment(
    owner: Owner,
    spec: RecommenderSystemSpec,
    status: Mapping[str, Any],
    read_counters: CounterReader,
    at: dt.datetime,
) -> tuple[ResolvedExperiment | None, ExperimentStatus | None, list[str]]:
    """What the API serves (all arms, the winner alone, or None), the experiment's status, and arms
    that cannot be served (an unknown version: everyone gets the current version meanwhile)."""
    if spec.experiment is None:
        return None, None, []
    model = ModelStatus.model_validate(status.get("model") or {})
    raw = status.get("experiment")
    previous = ExperimentStatus.model_validate(raw) if raw else None
    if previous is not None and previous.name != spec.experiment.name:
        previous = None
    arms, problems = experiments.resolve(spec.experiment, model, spec.serving.graph)
    if arms is None:
        invalid = ExperimentStatus(
            name=spec.experiment.name, phase="Invalid", reason="ArmNotServable", message="; ".join(problems)
        )
        return None, invalid, problems
    try:
        counters = read_counters(
            web.redis_url(owner, spec),
            web.key_namespace(owner),
            spec.experiment.name,
            [a.name for a in arms.arms],
        )
    except (RedisError, OSError) as exc:
        kept = previous or ExperimentStatus(name=spec.experiment.name, started_at=at)
        judged = kept.model_copy(update={"message": f"counters unreadable in Valkey ({exc}); {kept.message}"})
    else:
        judged = experiments.evaluate(spec.experiment, arms, counters, previous, at)
    served, _ = experiments.resolve(spec.experiment, model, spec.serving.graph, judged)
    return served, judged, []


def _apply(
    cluster: Cluster,
    owner: Owner,
    spec: RecommenderSystemSpec,
    status: Mapping[str, Any],
    eks: EksFactory,
    started: dict[str, Any],
    experiment: ResolvedExperiment | None = None,
) -> CapacityState:
    """Every child in order; what it starts is recorded in `started` (status fields) as it goes,
    so a later refusal does not lose it."""
    if spec.suspend:
        return CapacityState(ready=True, message="suspended")
    capacity_state = reconcile_capacity(cluster, owner, spec, eks)
    serving_version = (status.get("model") or {}).get("currentVersion")
    for manifest in desired_objects(owner, spec, cluster.hpa_api_version(), serving_version, experiment):
        cluster.apply(manifest)
    apply_monitors(cluster, owner)
    if needs_initial_training(spec, status):
        cluster.apply(training.training_run(owner, training.initial_run_name(owner), "Initial"))
        started["lastTrainingRun"] = training.initial_run_name(owner)
    return capacity_state


def apply_monitors(cluster: Cluster, owner: Owner) -> bool:
    """The components' ServiceMonitors where the Prometheus operator's CRDs are installed; False
    (nothing applied, no error) where they are not: monitoring is optional, serving is not."""
    try:
        for monitor in monitoring.service_monitors(owner):
            cluster.apply(monitor)
    except KindNotServedError:
        return False
    return True


def needs_initial_training(spec: RecommenderSystemSpec, status: Mapping[str, Any]) -> bool:
    """No model serves and no run was started: the first reconcile starts the initial run."""
    model = status.get("model") or {}
    return spec.training.initial and model.get("currentVersion") is None and not status.get("lastTrainingRun")


def release(
    body: Mapping[str, Any], cluster: Cluster, delete_keys: Callable[[str, str], int] = delete_namespace
) -> list[tuple[str, str]]:
    """Delete what owner references cannot collect: the cluster-scoped NodePool, the Valkey keys
    and the provisioned Valkey's volume claim.

    Keys go while Valkey still runs (a provisioned one is collected only after the
    finalizer lets go); a shared external Valkey keeps every other recommender's keys.
    """
    meta = body["metadata"]
    spec, _ = spec_problems(body.get("spec") or {})
    if spec is None:
        return []
    owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
    released: list[tuple[str, str]] = []
    namespace = web.key_namespace(owner)
    try:
        removed = delete_keys(web.redis_url(owner, spec), namespace)
        released.append(("Valkey keys", f"{removed} under {namespace}:"))
    except (RedisError, OSError) as exc:  # unreachable: the NodePool must still go
        released.append(("Valkey keys", f"left under {namespace}: ({exc})"))
    # A StatefulSet's claims outlive it (no owner reference): the provisioned Valkey's data is
    # this recommender's keys alone, which were just deleted, so its claim goes too.
    if valkey.provisioned(spec) and cluster.delete(
        "v1", "PersistentVolumeClaim", valkey.data_claim_name(owner), owner.namespace
    ):
        released.append(("Valkey volume claim", valkey.data_claim_name(owner)))
    if spec.capacity.provider == "karpenter":
        pool = capacity.node_pool(owner, spec)
        if cluster.delete(pool["apiVersion"], pool["kind"], pool["metadata"]["name"], None):
            released.append(("NodePool", pool["metadata"]["name"]))
    return released
