"""The event service: a StatefulSet (`recsys events serve`), its Service and its log volume.

Storage choice. Each replica fsyncs a write-ahead log before it acknowledges an event and
turns it into parquet parts of the offline log that incremental training reads. Hence:

- one ReadWriteMany claim (`<name>-event-log`, EFS by default), so training (and a
  replica rescheduled to another node or zone) reads the whole log from one volume;
- a folder per replica on it (`subPathExpr: $(POD_NAME)`): the WAL seals and flushes every
  segment in its folder but its own open one, so two live writers must never share one;
- a StatefulSet rather than a Deployment: a crashed `events-0` comes back as `events-0`,
  finds its own folder and replays the segments it left (a Deployment's new random pod
  name would leave them orphaned, acknowledged but never flushed). The writer id is the
  hostname, i.e. the pod name, so parts of different replicas never collide.

The volume must be writable by uid 1000 (an EFS access point with that uid, or a driver
that applies fsGroup). The catalog (item -> category) is read from the shared model
volume, mounted read-only.
"""

from __future__ import annotations

from typing import Any

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import common, web
from recsys_operator.manifests.common import Manifest, Owner
from recsys_workloads.contracts.access import AccessEnv

COMPONENT = "events"
PORT = 8081
CONFIG_FILE = "events.json"
LOG_MOUNT = "/var/lib/recsys/events"
MODELS_MOUNT = "/models"


def log_claim_name(owner: Owner) -> str:
    return owner.child_name("event-log")


def config(owner: Owner, spec: RecommenderSystemSpec) -> dict[str, Any]:
    """An `EventServiceConfig` (camelCase spec); `writerId` is left to its default, the pod name."""
    events = spec.events
    return {
        "redisUrl": web.redis_url(owner, spec),
        "catalog": events.catalog,
        "logDir": LOG_MOUNT,
        "limits": events.limits.to_spec(),
        "wal": events.wal.to_spec(),
        "seenFilter": spec.filtering.to_spec(),
        "popularity": spec.popularity.to_spec(),
        "guard": web.guard(events.auth, events.rate_limit),
    }


def config_map(owner: Owner, spec: RecommenderSystemSpec) -> Manifest:
    return web.config_map(owner, COMPONENT, CONFIG_FILE, config(owner, spec))


def log_volume_claim(owner: Owner, spec: RecommenderSystemSpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": owner.metadata(COMPONENT, log_claim_name(owner)),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": spec.events.storage_class,
            "resources": {"requests": {"storage": spec.events.storage}},
        },
    }


def statefulset(owner: Owner, spec: RecommenderSystemSpec) -> Manifest:
    container = web.container(
        spec,
        owner,
        name="events",
        image=spec.events.image,
        args=[
            "events",
            "serve",
            f"--config={web.CONFIG_MOUNT}/{CONFIG_FILE}",
            "--host=0.0.0.0",
            f"--port={PORT}",
        ],
        port=PORT,
        resources=spec.events.resources,
        env=[
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            *web.token_env(spec.events.auth, AccessEnv.TOKEN),
        ],
        volume_mounts=[
            {"name": "log", "mountPath": LOG_MOUNT, "subPathExpr": "$(POD_NAME)"},
            {"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True},
        ],
    )
    volumes = [
        {"name": "log", "persistentVolumeClaim": {"claimName": log_claim_name(owner)}},
        {
            "name": "models",
            "persistentVolumeClaim": {"claimName": owner.child_name("models"), "readOnly": True},
        },
    ]
    template = web.pod_template(owner, COMPONENT, config(owner, spec), container, volumes)
    template["metadata"]["annotations"].update(
        {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(PORT),
            "prometheus.io/path": "/metrics",
            **web.seen_filter_layout(spec),
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": owner.metadata(COMPONENT),
        "spec": {
            "serviceName": owner.child_name(COMPONENT),
            "replicas": spec.events.replicas,
            # Replicas are independent writers: no reason to start or stop them in order.
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": owner.selector(COMPONENT)},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": template,
        },
    }


def service(owner: Owner) -> Manifest:
    return common.service(owner, COMPONENT, {"http": PORT})
