"""Triton Deployment, Service and queue-time HPA, after the seed's chart.

A Triton pod renders its model repository at start (init container, the serving image's
`python -m recsys_workloads.serving.triton.pod_repository`) for the model version named in its template,
so a restarted or added pod serves the version status records (docs/decisions/0009), and
the pinned versions an experiment needs beside it (docs/decisions/0024).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import common, web
from recsys_operator.manifests.common import (
    DRAIN_BEFORE_STOP,
    NO_API_TOKEN,
    RESTRICTED_CONTAINER_SECURITY,
    Manifest,
    Owner,
)
from recsys_workloads.contracts.serving import (
    POD_REPOSITORY_MODULE,
    POPULAR_ENSEMBLE,
    PodEnv,
    pinned_ensemble,
)

COMPONENT = "triton"
MODELS_MOUNT = "/models"  # the shared model volume: published versions are /models/<N>
REPOSITORY_MOUNT = "/repository"  # an emptyDir for the pod's rendered Triton repository
# A folder inside the mount: rendering stages beside it and renames it into place.
REPOSITORY = f"{REPOSITORY_MOUNT}/models"
HTTP, GRPC, METRICS = 8000, 8001, 8002
QUEUE_METRIC = "avg_time_queue_ms"  # exposed by the Prometheus adapter, as in the seed
VERSION_ANNOTATION = "recsys.io/model-version"


def version_dir(version: int) -> str:
    """A published model version as Triton's processes see it."""
    return f"{MODELS_MOUNT}/{version}"


def _render_container(
    owner: Owner, spec: RecommenderSystemSpec, version: int | None, pinned: Sequence[int]
) -> Manifest:
    """Writes the repository for `version` (only the popularity path without one) and the
    `pinned` versions into the emptyDir."""
    env = [
        {"name": PodEnv.VERSION_DIR, "value": version_dir(version) if version is not None else ""},
        {"name": PodEnv.REDIS_URL, "value": web.redis_url(owner, spec)},
        {"name": PodEnv.SERVING_GRAPH, "value": json.dumps(spec.serving_graph().to_spec(), sort_keys=True)},
    ]
    if pinned:  # absent without an experiment: templates (and so pods) stay as they were
        env.append({"name": PodEnv.PINNED_VERSIONS, "value": json.dumps(list(pinned))})
    return {
        "name": "render-repository",
        "image": spec.serving.image,
        "command": ["python", "-m", POD_REPOSITORY_MODULE, REPOSITORY],
        "env": env,
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True},
            {"name": "repository", "mountPath": REPOSITORY_MOUNT},
        ],
        "securityContext": {**RESTRICTED_CONTAINER_SECURITY, "readOnlyRootFilesystem": True},
    }


def model_volume_claim(owner: Owner, spec: RecommenderSystemSpec) -> Manifest:
    repo = spec.serving.model_repository
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": owner.metadata("models"),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": repo.storage_class,
            "resources": {"requests": {"storage": repo.size}},
        },
    }


def deployment(
    owner: Owner,
    spec: RecommenderSystemSpec,
    ensemble: str,
    model_version: int | None = None,
    pinned_versions: Sequence[int] = (),
) -> Manifest:
    """Triton serving `ensemble` on `model_version` (status.model.currentVersion; None: not trained yet).

    A new version in the template replaces pods one at a time; promotion has already
    switched the running pods live, so the new pods start on what already serves.
    `pinned_versions` (what an experiment's arms need) are served beside it, each as
    `pinned_ensemble(graph, N)`; changing them also replaces the pods one at a time.
    """
    serving = spec.serving
    pinned = sorted(set(pinned_versions))
    if pinned and model_version is None:
        raise ValueError(f"pinned versions {pinned} need a current model version to serve beside")
    loads = [POPULAR_ENSEMBLE] if model_version is None else [ensemble, POPULAR_ENSEMBLE]
    loads += [pinned_ensemble(spec.serving.graph, n) for n in pinned]
    resources = {"cpu": serving.resources.cpu, "memory": serving.resources.memory}
    limits = dict(resources)
    if serving.resources.gpu:
        limits["nvidia.com/gpu"] = str(serving.resources.gpu)
    container = {
        "name": "tritonserver",
        "image": serving.image,
        "command": ["tritonserver"],
        "args": [
            f"--model-repository={REPOSITORY}",
            "--model-control-mode=explicit",
            *(f"--load-model={name}" for name in loads),
            f"--http-port={HTTP}",
            f"--grpc-port={GRPC}",
            f"--metrics-port={METRICS}",
            "--strict-readiness=true",
        ],
        "ports": [
            {"name": "http", "containerPort": HTTP, "protocol": "TCP"},
            {"name": "grpc", "containerPort": GRPC, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS, "protocol": "TCP"},
        ],
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "startupProbe": {
            "httpGet": {"path": "/v2/health/live", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 60,
        },
        "resources": {"requests": resources, "limits": limits},
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True},
            {"name": "repository", "mountPath": REPOSITORY_MOUNT, "readOnly": True},
        ],
        "securityContext": RESTRICTED_CONTAINER_SECURITY,
        "lifecycle": DRAIN_BEFORE_STOP,
    }
    # The Python steps' Valkey keys, and the password they connect with (online.client.connect).
    container["env"] = [web.key_namespace_env(owner), *web.password_env(spec)]
    pod_spec: Manifest = {
        **NO_API_TOKEN,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000},
        "initContainers": [_render_container(owner, spec, model_version, pinned)],
        "containers": [container],
        "volumes": [
            {"name": "models", "persistentVolumeClaim": {"claimName": owner.child_name("models")}},
            {"name": "repository", "emptyDir": {}},
        ],
    }
    if serving.resources.gpu:
        pod_spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    deployment_spec: Manifest = {
        "selector": {"matchLabels": owner.selector(COMPONENT)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": owner.labels(COMPONENT),
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(METRICS),
                    VERSION_ANNOTATION: "none" if model_version is None else str(model_version),
                    **web.seen_filter_layout(spec),
                },
            },
            "spec": pod_spec,
        },
    }
    if not autoscaled(spec):
        # With an HPA the replica count is the HPA's field: applying it here would fight it.
        deployment_spec["replicas"] = serving.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": owner.metadata(COMPONENT),
        "spec": deployment_spec,
    }


def service(owner: Owner) -> Manifest:
    return common.service(owner, COMPONENT, {"http": HTTP, "grpc": GRPC, "metrics": METRICS})


def autoscaled(spec: RecommenderSystemSpec) -> bool:
    return spec.serving.max_replicas > spec.serving.replicas and spec.serving.replicas > 0


def autoscaler(owner: Owner, spec: RecommenderSystemSpec, api_version: str = "autoscaling/v2") -> Manifest:
    """HPA on Triton's average queue time; `api_version` is autoscaling/v2beta2 before Kubernetes 1.23."""
    serving = spec.serving
    return {
        "apiVersion": api_version,
        "kind": "HorizontalPodAutoscaler",
        "metadata": owner.metadata(COMPONENT),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": owner.child_name(COMPONENT),
            },
            "minReplicas": serving.replicas,
            "maxReplicas": serving.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": QUEUE_METRIC},
                        "target": {"type": "AverageValue", "averageValue": str(serving.queue_time_target_ms)},
                    },
                }
            ],
        },
    }
