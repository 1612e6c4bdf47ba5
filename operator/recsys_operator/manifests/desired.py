"""Everything a RecommenderSystem owns, in apply order."""

from __future__ import annotations

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import triton, valkey
from recsys_operator.manifests.common import Manifest, Owner

ENSEMBLE = "homepage"


def desired_objects(
    owner: Owner, spec: RecommenderSystemSpec, hpa_api_version: str = "autoscaling/v2"
) -> list[Manifest]:
    objects = [valkey.online_config(owner, spec), triton.model_volume_claim(owner, spec)]
    if valkey.provisioned(spec):
        objects += [valkey.service(owner), valkey.statefulset(owner, spec), valkey.network_policy(owner)]
    objects += [triton.service(owner), triton.deployment(owner, spec, ENSEMBLE)]
    if triton.autoscaled(spec):
        objects.append(triton.autoscaler(owner, spec, hpa_api_version))
    return objects
