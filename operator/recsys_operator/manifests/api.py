"""The recommendation API: a stateless Deployment (`recsys api serve`) and its Service.

Its config is `recsys_workloads.serving.api.app.ApiConfig` as JSON with that model's snake_case
field names (`tests/unit/operator/test_front_door_manifests.py` validates what is built
here against it, so a renamed field fails there, not in a pod). The operator image cannot
import that model (FastAPI lives in the workloads image), hence the plain dict.
"""

from __future__ import annotations

from typing import Any

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import common, events, triton, web
from recsys_operator.manifests.common import Manifest, Owner
from recsys_workloads.contracts.access import AccessEnv
from recsys_workloads.contracts.experiment import ResolvedExperiment
from recsys_workloads.contracts.serving import ENSEMBLE_OF

COMPONENT = "api"
PORT = 8080
CONFIG_FILE = "api.json"


def ensemble(spec: RecommenderSystemSpec) -> str:
    """The Triton model the API calls (and Triton loads) for the spec's graph."""
    return ENSEMBLE_OF[spec.serving.graph]


def config(
    owner: Owner, spec: RecommenderSystemSpec, experiment: ResolvedExperiment | None = None
) -> dict[str, Any]:
    """No `catalog`: item details and the demo page are local mode's; the pod mounts no dataset."""
    events_url = f"http://{owner.child_name(events.COMPONENT)}.{owner.namespace}.svc:{events.PORT}"
    return {
        "triton_url": f"{owner.child_name(triton.COMPONENT)}.{owner.namespace}.svc:{triton.GRPC}",
        "model": ensemble(spec),
        "timeout_s": spec.api.timeout_s,
        "redis_url": web.redis_url(owner, spec),
        "events_url": events_url if spec.events.replicas else "",
        "guard": web.guard(spec.api.auth, spec.api.rate_limit),
        "experiment": experiment.model_dump(mode="json") if experiment is not None else None,
    }


def config_map(
    owner: Owner, spec: RecommenderSystemSpec, experiment: ResolvedExperiment | None = None
) -> Manifest:
    return web.config_map(owner, COMPONENT, CONFIG_FILE, config(owner, spec, experiment))


def deployment(
    owner: Owner, spec: RecommenderSystemSpec, experiment: ResolvedExperiment | None = None
) -> Manifest:
    """The config's hash is in the pod template: a changed split (or a decision) rolls the pods."""
    container = web.container(
        spec,
        owner,
        name="api",
        image=spec.api.image,
        args=[
            "api",
            "serve",
            f"--config={web.CONFIG_MOUNT}/{CONFIG_FILE}",
            "--host=0.0.0.0",
            f"--port={PORT}",
        ],
        port=PORT,
        resources=spec.api.resources,
        volume_mounts=[],
        env=[
            *web.token_env(spec.api.auth, AccessEnv.TOKEN),
            *(web.token_env(spec.events.auth, AccessEnv.EVENTS_TOKEN) if spec.events.replicas else []),
        ],
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": owner.metadata(COMPONENT),
        "spec": {
            "replicas": spec.api.replicas,
            "selector": {"matchLabels": owner.selector(COMPONENT)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": web.pod_template(owner, COMPONENT, config(owner, spec, experiment), container, []),
        },
    }


def service(owner: Owner) -> Manifest:
    return common.service(owner, COMPONENT, {"http": PORT})
