"""The Kubernetes Job of one TrainingRun (spec.training.orchestrator `job`), owned by that run.

One Job per run, running the whole compiled pipeline with KFP's local runner inside the
training image (docs/decisions/0013): the same code path local mode runs and tests, artifacts
passed through the pod's own disk, results published to the model volume. `backoffLimit` 0:
a failed training is reported, not silently retried; `activeDeadlineSeconds` bounds it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from recsys_operator.api import API_VERSION
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.api.training_run import KIND
from recsys_operator.manifests import events, web
from recsys_operator.manifests.common import NO_API_TOKEN, RESTRICTED_CONTAINER_SECURITY, Manifest, Owner
from recsys_workloads.contracts.job import ARGUMENTS_ENV, CONTAINER, RUN_ID_ENV
from recsys_workloads.contracts.pipelines import GPU_RESOURCE, MODEL_MOUNT

COMPONENT = "training"
RUN_LABEL = "recsys.io/training-run"
EVENT_LOG_MOUNT = "/var/lib/recsys/event-log"  # the whole claim: one folder per event service replica
MAX_NAME = 63  # a Job's name is also its pods' `job-name` label value
RUN_AS = 1000  # the workloads image's USER


def job_name(run_meta: Mapping[str, Any]) -> str:
    """`<run>-<uid8>`, cut so it is a valid label value; stable, so a second submit finds the first."""
    suffix = "-" + str(run_meta["uid"])[:8]
    return str(run_meta["name"])[: MAX_NAME - len(suffix)].rstrip("-.") + suffix


def job(
    owner: Owner,
    run_meta: Mapping[str, Any],
    spec: RecommenderSystemSpec,
    pipeline: str,
    arguments: Mapping[str, object],
    run_id: str,
) -> Manifest:
    """`owner` is the recommender (labels, claims); the TrainingRun in `run_meta` owns the Job."""
    training = spec.training
    name = job_name(run_meta)
    labels = {**owner.labels(COMPONENT), RUN_LABEL: str(run_meta["name"])}
    limits: dict[str, str] = {"memory": training.resources.memory}
    if training.gpu:
        limits[GPU_RESOURCE] = "1"
    mounts: list[Manifest] = [
        {"name": "models", "mountPath": MODEL_MOUNT},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[Manifest] = [
        {"name": "models", "persistentVolumeClaim": {"claimName": owner.child_name("models")}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if spec.events.replicas:  # incremental runs learn from the live event log
        mounts.append({"name": "event-log", "mountPath": EVENT_LOG_MOUNT, "readOnly": True})
        volumes.append(
            {
                "name": "event-log",
                "persistentVolumeClaim": {"claimName": events.log_claim_name(owner), "readOnly": True},
            }
        )
    container: Manifest = {
        "name": CONTAINER,
        "image": training.image,
        "command": ["python", "-m", "recsys_workloads.pipelines.job_run", pipeline],
        "env": [
            {"name": ARGUMENTS_ENV, "value": json.dumps(dict(arguments), sort_keys=True)},
            {"name": RUN_ID_ENV, "value": run_id},
            *web.password_env(spec),  # the initial run warms Valkey from history
        ],
        "resources": {
            "requests": {"cpu": training.resources.cpu, "memory": training.resources.memory},
            "limits": limits,
        },
        "volumeMounts": mounts,
        "terminationMessagePolicy": "File",
        "securityContext": {**RESTRICTED_CONTAINER_SECURITY, "readOnlyRootFilesystem": True},
    }
    pod_spec: Manifest = {
        "restartPolicy": "Never",
        **NO_API_TOKEN,
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "fsGroup": RUN_AS},
        "containers": [container],
        "volumes": volumes,
    }
    if training.gpu:
        pod_spec["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": owner.namespace,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": run_meta["name"],
                    "uid": run_meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": training.timeout_minutes * 60,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
