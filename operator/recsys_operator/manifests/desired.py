"""Everything a RecommenderSystem owns, in apply order.

Configs and volume claims first, NetworkPolicies before the pods they protect, then each
component's Service before its workload.
"""

from __future__ import annotations

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import api, events, network, triton, valkey
from recsys_operator.manifests.common import Manifest, Owner
from recsys_workloads.contracts.experiment import ResolvedExperiment


def desired_objects(
    owner: Owner,
    spec: RecommenderSystemSpec,
    hpa_api_version: str = "autoscaling/v2",
    model_version: int | None = None,
    experiment: ResolvedExperiment | None = None,
) -> list[Manifest]:
    """`model_version` is status.model.currentVersion: new Triton pods render that version;
    `experiment`: the arms the API splits visitors over (spec.experiment, resolved)."""
    objects = [
        api.config_map(owner, spec, experiment),
        events.config_map(owner, spec),
        triton.model_volume_claim(owner, spec),
        events.log_volume_claim(owner, spec),
        *network.policies(owner, valkey.provisioned(spec)),
    ]
    if valkey.provisioned(spec):
        objects += [valkey.service(owner), valkey.statefulset(owner, spec)]
    objects += [
        triton.service(owner),
        triton.deployment(
            owner,
            spec,
            api.ensemble(spec),
            model_version,
            experiment.pinned_versions(model_version) if experiment is not None else (),
        ),
    ]
    if triton.autoscaled(spec):
        objects.append(triton.autoscaler(owner, spec, hpa_api_version))
    objects += [
        api.service(owner),
        api.deployment(owner, spec, experiment),
        events.service(owner),
        events.statefulset(owner, spec),
    ]
    return objects
