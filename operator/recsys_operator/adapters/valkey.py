"""The operator's door to Valkey: removing a deleted recommender's keys, reading experiment counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from recsys_workloads.contracts import keys
from recsys_workloads.contracts.experiment import ArmCounters
from recsys_workloads.online.client import connect

BATCH = 500


def delete_namespace(url: str, namespace: str, timeout_s: float = 5.0) -> int:
    """UNLINK every key of `namespace` (SCAN in batches: never blocks Valkey); returns how many."""
    client = connect(url, timeout_s=timeout_s)
    deleted, pending = 0, []
    try:
        for key in client.scan_iter(match=keys.namespace_pattern(namespace), count=BATCH):
            pending.append(key)
            if len(pending) >= BATCH:
                deleted += cast(int, client.unlink(*pending))
                pending.clear()
        if pending:
            deleted += cast(int, client.unlink(*pending))
    finally:
        client.close()
    return deleted


def read_arm_counters(
    url: str, namespace: str, experiment: str, arms: Sequence[str], timeout_s: float = 5.0
) -> dict[str, ArmCounters]:
    """Each arm's counters (one pipelined HGETALL per arm); raises RedisError/OSError when unreachable."""
    client = connect(url, timeout_s=timeout_s)
    try:
        pipe = client.pipeline(transaction=False)
        for arm in arms:
            pipe.hgetall(keys.arm_counters_key(experiment, arm, namespace))
        raw = pipe.execute()
    finally:
        client.close()
    return {arm: ArmCounters.from_hash(found) for arm, found in zip(arms, raw, strict=True)}
