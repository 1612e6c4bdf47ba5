"""The operator's door to Valkey: removing a deleted recommender's keys (online/keys.py layout)."""

from __future__ import annotations

from typing import cast

from recsys_workloads.contracts import keys
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
