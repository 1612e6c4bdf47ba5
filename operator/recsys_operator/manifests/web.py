"""What the two HTTP front doors (recommendation API, event service) share.

Both run the workloads image's `recsys` command with one JSON config file from a
ConfigMap; the pod template carries the config's hash, so a changed config rolls the pods
(a mounted ConfigMap alone would change under a running process that read it at start).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from recsys_operator.api.recommender_system import PodResourcesSpec, RecommenderSystemSpec
from recsys_operator.manifests import valkey
from recsys_operator.manifests.common import (
    DRAIN_BEFORE_STOP,
    NO_API_TOKEN,
    RESTRICTED_CONTAINER_SECURITY,
    Manifest,
    Owner,
)
from recsys_workloads.contracts import keys
from recsys_workloads.contracts.access import AuthSpec, GuardConfig, RateLimitConfig

CONFIG_MOUNT = "/etc/recsys"
CONFIG_HASH_ANNOTATION = "recsys.io/config-hash"
SEEN_FILTER_LAYOUT_ANNOTATION = "recsys.io/seen-filter-layout"
PASSWORD_ENV = "VALKEY_PASSWORD"  # the name Feast's rendered config expands as well
RUN_AS = 1000  # the workloads image's USER


def redis_url(owner: Owner, spec: RecommenderSystemSpec) -> str:
    """Valkey URL without the password (a ConfigMap is no place for it; see `PASSWORD_ENV`)."""
    scheme = "rediss" if spec.feature_store.online_store.tls else "redis"
    return f"{scheme}://{valkey.address(owner, spec)}/0"


def config_map(owner: Owner, component: str, file_name: str, config: dict[str, Any]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": owner.metadata(component, owner.child_name(f"{component}-config")),
        "data": {file_name: _dump(config)},
    }


def seen_filter_layout(spec: RecommenderSystemSpec) -> dict[str, str]:
    """The pod annotation naming the seen-filter layout a pod writes or reads.

    The event service writes the filters and Triton reads them; both take the layout from
    spec.filtering. Each pod carries its layout's hash, so FiltersReady can say whether every
    writer and reader uses the current one (a rollout replaces them at different times).
    """
    return {SEEN_FILTER_LAYOUT_ANNOTATION: config_hash(spec.filtering.to_spec())}


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(_dump(config).encode()).hexdigest()[:16]


def _dump(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True)


def key_namespace_env(owner: Owner) -> Manifest:
    """Prefixes this recommender's Valkey keys, so a shared Valkey can be cleaned on deletion."""
    return {"name": keys.NAMESPACE_ENV, "value": key_namespace(owner)}


def key_namespace(owner: Owner) -> str:
    return f"{owner.namespace}/{owner.name}"


def password_env(spec: RecommenderSystemSpec) -> list[Manifest]:
    """$VALKEY_PASSWORD from the spec's Secret (key `password`); none without one."""
    ref = spec.feature_store.online_store.password_secret_ref
    if not ref:
        return []
    return [{"name": PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": ref, "key": "password"}}}]


def guard(auth: AuthSpec, rate_limit: RateLimitConfig) -> dict[str, Any]:
    """The service's `GuardConfig`: whether it must find a token (never the token) and its rate limit."""
    return GuardConfig(token_required=auth.token_secret_ref is not None, rate_limit=rate_limit).to_spec()


def token_env(auth: AuthSpec, variable: str) -> list[Manifest]:
    """`variable` from the Secret key the spec names (the kubelet reads it; no ConfigMap holds it)."""
    ref = auth.token_secret_ref
    if ref is None:
        return []
    return [{"name": variable, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}]


def container(
    spec: RecommenderSystemSpec,
    owner: Owner,
    *,
    name: str,
    image: str,
    args: list[str],
    port: int,
    resources: PodResourcesSpec,
    volume_mounts: list[Manifest],
    env: list[Manifest] | None = None,
) -> Manifest:
    """`recsys <args>` on `port` (named http), probed on /healthz and /readyz, read-only root."""
    environment = [key_namespace_env(owner), *(env or []), *password_env(spec)]
    probe = {"port": "http", "scheme": "HTTP"}
    built: Manifest = {
        "name": name,
        "image": image,
        "command": ["recsys"],
        "args": args,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        # A starved node (a Triton pod loading its models beside) can delay even a trivial answer
        # past the 1 s default; an unready front door is refused connections, a slow one is not.
        "readinessProbe": {"httpGet": {"path": "/readyz", **probe}, "periodSeconds": 5, "timeoutSeconds": 3},
        "livenessProbe": {
            "httpGet": {"path": "/healthz", **probe},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        # Start-up loads the catalog and replays a WAL: give it minutes before liveness counts.
        "startupProbe": {
            "httpGet": {"path": "/healthz", **probe},
            "periodSeconds": 5,
            "failureThreshold": 60,
        },
        "resources": {
            "requests": {"cpu": resources.cpu, "memory": resources.memory},
            "limits": {"memory": resources.memory},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            *volume_mounts,
        ],
        "securityContext": {**RESTRICTED_CONTAINER_SECURITY, "readOnlyRootFilesystem": True},
        "lifecycle": DRAIN_BEFORE_STOP,
    }
    built["env"] = environment
    return built


def pod_template(
    owner: Owner, component: str, config: dict[str, Any], container: Manifest, volumes: list[Manifest]
) -> Manifest:
    return {
        "metadata": {
            "labels": owner.labels(component),
            "annotations": {CONFIG_HASH_ANNOTATION: config_hash(config)},
        },
        "spec": {
            **NO_API_TOKEN,
            "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS},
            "containers": [container],
            "volumes": [
                {"name": "config", "configMap": {"name": owner.child_name(f"{component}-config")}},
                {"name": "tmp", "emptyDir": {}},
                *volumes,
            ],
        },
    }
