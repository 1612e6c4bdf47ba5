"""The Triton pod's init container: render the model repository the pod starts from.

A pod restarted after a promotion must serve the promoted version, so the operator's pod
template names it and this renders it; live switches go through `serving.triton.rollout`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from recsys_workloads.contracts.serving import PodEnv, ServingGraphConfig
from recsys_workloads.serving.triton.repository import (
    RepositoryError,
    build_repository,
    build_version_repository,
)
from recsys_workloads.serving.triton.templates import POPULAR_PATH


def render_pod_repository(
    dest: Path,
    version_dir: str | None,
    redis_url: str,
    config: ServingGraphConfig | None = None,
    pinned: Sequence[int] = (),
) -> Path:
    """The repository a Triton pod starts from: `config.graph` on `version_dir`, plus the popular path.

    Without a version (nothing trained yet) only the popularity path is rendered, so the pod
    serves `homepage_popular` until the first version is promoted. Each `pinned` version
    (an experiment arm) adds its own ensemble on the sibling folder `<version_dir>/../<N>`.
    The pod loads the ensembles its template lists (`--load-model`). Returns `dest`.
    """
    config = config or ServingGraphConfig()
    if version_dir:
        folders = {n: Path(version_dir).parent / str(n) for n in pinned}
        return build_version_repository(
            Path(version_dir), dest, redis_url, (config.graph,), config, pinned=folders
        )
    if pinned:
        raise RepositoryError(f"pinned versions {list(pinned)} need a current version to serve beside")
    return build_repository(dest, POPULAR_PATH, {"REDIS_URL": redis_url})


def pinned_versions(value: str) -> list[int]:
    """`PodEnv.PINNED_VERSIONS` (a JSON list of version numbers; empty: none), checked."""
    try:
        found = json.loads(value) if value.strip() else []
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, list) or not all(type(n) is int and n >= 1 for n in found):
        raise RepositoryError(f"{PodEnv.PINNED_VERSIONS} must be a JSON list of versions >= 1, got {value!r}")
    return found


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m recsys_workloads.serving.triton.pod_repository DEST`: the Triton pod's init container.

    Reads the version folder (empty: no version yet), the Valkey URL and the ServingGraphConfig as
    JSON and the pinned versions from the environment keys the operator's Deployment sets
    (contracts.serving.PodEnv).
    """

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise SystemExit("usage: python -m recsys_workloads.serving.triton.pod_repository DEST")
    graph = os.environ.get(PodEnv.SERVING_GRAPH) or "{}"
    version_dir = os.environ.get(PodEnv.VERSION_DIR) or None
    pinned = pinned_versions(os.environ.get(PodEnv.PINNED_VERSIONS, ""))
    dest = render_pod_repository(
        Path(args[0]),
        version_dir,
        os.environ.get(PodEnv.REDIS_URL, ""),
        ServingGraphConfig.model_validate_json(graph),
        pinned,
    )
    print(
        f"rendered {sorted(p.name for p in dest.iterdir())} for version {version_dir or 'none'}"
        f" (pinned: {pinned or 'none'}) into {dest}"
    )


if __name__ == "__main__":
    main()
