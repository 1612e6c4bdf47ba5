"""Checks a recommender's name up front against every name and label its children derive from it.

Kubernetes refuses a Service name over 63 characters, a label value over 63, and a
StatefulSet whose pods' `controller-revision-hash` label (`<name>-<hash>`) would exceed 63;
found at apply time, that is a half-created system. The children are rendered (not
re-described) so a new child or label is checked without touching this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import training
from recsys_operator.manifests.common import Manifest, Owner
from recsys_operator.manifests.desired import desired_objects

LABEL_VALUE_MAX: Final = 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # RFC 1035: what a Service name must be
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# The longest suffix the StatefulSet controller adds for the revision-hash label (`-` + 10 characters).
REVISION_HASH_SUFFIX: Final = 11
NAME_LIMITS: Final[Mapping[str, int]] = {
    "Service": LABEL_VALUE_MAX,
    "StatefulSet": LABEL_VALUE_MAX - REVISION_HASH_SUFFIX,
}
SUBDOMAIN_MAX: Final = 253


def _labels(manifest: Manifest) -> Iterator[tuple[str, str]]:
    """Every label value the object carries or selects on, its pod template's included."""
    spec: Mapping[str, Any] = manifest.get("spec") or {}
    maps = [
        manifest["metadata"].get("labels"),
        (spec.get("selector") or {}).get("matchLabels") if isinstance(spec.get("selector"), dict) else None,
        ((spec.get("template") or {}).get("metadata") or {}).get("labels"),
        (spec.get("podSelector") or {}).get("matchLabels"),
    ]
    if manifest["kind"] == "Service":
        maps.append(spec.get("selector"))
    for labels in maps:
        for key, value in (labels or {}).items():
            yield key, str(value)


def name_problems(owner: Owner, spec: RecommenderSystemSpec) -> list[str]:
    """One message naming `metadata.name`, the first child it breaks and the longest name that
    would work; empty when every child fits."""
    broken: list[str] = []
    budget = SUBDOMAIN_MAX
    run = training.training_run(owner, training.initial_run_name(owner), "Initial")
    for manifest in [*desired_objects(owner, spec), run]:
        kind, name = manifest["kind"], str(manifest["metadata"]["name"])
        limit = NAME_LIMITS.get(kind, SUBDOMAIN_MAX)
        budget = min(budget, limit - (len(name) - len(owner.name)))
        pattern = _DNS_LABEL if kind == "Service" else _SUBDOMAIN
        if len(name) > limit or not pattern.match(name):
            broken.append(f"the {kind} name {name} ({len(name)} characters; at most {limit}, lowercase)")
        for key, value in _labels(manifest):
            if owner.name in value:
                budget = min(budget, LABEL_VALUE_MAX - (len(value) - len(owner.name)))
            if len(value) > LABEL_VALUE_MAX or not _LABEL_VALUE.match(value):
                broken.append(f"the {kind} {name}'s label {key} ({len(value)} characters; at most 63)")
    if not broken:
        return []
    more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
    return [
        f"metadata.name {owner.name!r} makes {broken[0]}{more}: "
        f"use a lowercase name of at most {budget} characters"
    ]
