"""Triton Deployment, Service and queue-time HPA, after the seed's chart."""

from __future__ import annotations

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import common
from recsys_operator.manifests.common import RESTRICTED_CONTAINER_SECURITY, Manifest, Owner

COMPONENT = "triton"
MODELS_MOUNT = "/models"
HTTP, GRPC, METRICS = 8000, 8001, 8002
QUEUE_METRIC = "avg_time_queue_ms"  # exposed by the Prometheus adapter, as in the seed


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


def deployment(owner: Owner, spec: RecommenderSystemSpec, ensemble: str) -> Manifest:
    serving = spec.serving
    resources = {"cpu": serving.resources.cpu, "memory": serving.resources.memory}
    limits = dict(resources)
    if serving.resources.gpu:
        limits["nvidia.com/gpu"] = str(serving.resources.gpu)
    container = {
        "name": "tritonserver",
        "image": serving.image,
        "args": [
            "tritonserver",
            f"--model-repository={MODELS_MOUNT}",
            "--model-control-mode=explicit",
            f"--load-model={ensemble}",
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
        "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True}],
        "securityContext": RESTRICTED_CONTAINER_SECURITY,
    }
    pod_spec: Manifest = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000},
        "containers": [container],
        "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": owner.child_name("models")}}],
    }
    if serving.resources.gpu:
        pod_spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    deployment_spec: Manifest = {
        "selector": {"matchLabels": owner.selector(COMPONENT)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": owner.labels(COMPONENT),
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS)},
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
