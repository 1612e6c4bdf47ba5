"""A provisioned Valkey (with valkey-bloom) when the spec names no external address."""

from __future__ import annotations

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import common
from recsys_operator.manifests.common import NO_API_TOKEN, RESTRICTED_CONTAINER_SECURITY, Manifest, Owner

COMPONENT = "valkey"
PORT = 6379


def provisioned(spec: RecommenderSystemSpec) -> bool:
    return not spec.feature_store.online_store.address


def address(owner: Owner, spec: RecommenderSystemSpec) -> str:
    """host:port the serving steps, event service and training use."""
    given = spec.feature_store.online_store.address
    return given or f"{owner.child_name(COMPONENT)}.{owner.namespace}.svc:{PORT}"


DATA = "data"  # the volumeClaimTemplate: its claim is data-<statefulset>-0


def data_claim_name(owner: Owner) -> str:
    return f"{DATA}-{owner.child_name(COMPONENT)}-0"


def statefulset(owner: Owner, spec: RecommenderSystemSpec) -> Manifest:
    store = spec.feature_store.online_store
    container = {
        "name": "valkey",
        "image": store.image,
        "ports": [{"name": "valkey", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": "valkey"}, "periodSeconds": 5},
        "volumeMounts": [{"name": DATA, "mountPath": "/data"}],
        "securityContext": RESTRICTED_CONTAINER_SECURITY,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": owner.metadata(COMPONENT),
        "spec": {
            "serviceName": owner.child_name(COMPONENT),
            "replicas": 1,
            "selector": {"matchLabels": owner.selector(COMPONENT)},
            "template": {
                "metadata": {"labels": owner.labels(COMPONENT)},
                "spec": {
                    **NO_API_TOKEN,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "fsGroup": 999},
                    "containers": [container],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": DATA},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": store.storage}},
                    },
                }
            ],
        },
    }


def service(owner: Owner) -> Manifest:
    return common.service(owner, COMPONENT, {"valkey": PORT})
