"""Sticky arm assignment: a hash of the experiment name and the visitor, cut by the arms' weights.

Sticky without state: the same visitor gets the same arm on every API replica and after a
restart, and renaming the experiment reshuffles everyone (a new experiment, new buckets).
Registered users hash by user id, anonymous visitors by their session id (`anon-<session>`);
a request with neither is assigned by its recommendation id, i.e. at random.
"""

from __future__ import annotations

import hashlib

from recsys_workloads.contracts.experiment import BUCKETS, WEIGHT_TOTAL, ResolvedArm, ResolvedExperiment


def bucket(experiment: str, key: str) -> int:
    """A uniform point in [0, BUCKETS) for (experiment, visitor); blake2b: stable across processes."""
    digest = hashlib.blake2b(f"{experiment}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def assign(experiment: ResolvedExperiment, key: str) -> ResolvedArm:
    """The live arm whose weight range holds the visitor's bucket (arms in spec order)."""
    point, edge = bucket(experiment.name, key), 0
    live = experiment.live_arms
    for arm in live:
        edge += arm.weight * (BUCKETS // WEIGHT_TOTAL)
        if point < edge:
            return arm
    return live[-1]
