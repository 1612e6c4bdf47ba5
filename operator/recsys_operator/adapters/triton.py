"""Triton's HTTP repository API, for every ready Triton pod of one recommender.

A Service address would reach one pod per connection, so a switch through it would leave
the other replicas on the old version: the pods come from the Service's Endpoints (ready
addresses only; a pod that is not ready yet starts on the version in its template). In
local mode and tests `RECSYS_TRITON_URL` (`host:port`) names the one Triton instead.
A switch that fails on one pod switches the pods already done back, so all pods keep
serving one version.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from recsys_operator.adapters.kube import Cluster
from recsys_operator.adapters.pipelines import local_mode, storage_for
from recsys_operator.manifests import triton
from recsys_operator.manifests.common import Owner
from recsys_workloads.contracts.rollout import RolloutError, RolloutResult
from recsys_workloads.contracts.serving import ENSEMBLE
from recsys_workloads.serving.triton.rollout import served_version_dirs, switch_triton, version_number

URL_ENV = "RECSYS_TRITON_URL"


def endpoint_urls(endpoints: Mapping[str, Any] | None) -> list[str]:
    """`ip:8000` of each ready address of the Triton Service's Endpoints."""
    return sorted(
        f"{address['ip']}:{triton.HTTP}"
        for subset in (endpoints or {}).get("subsets") or []
        for address in subset.get("addresses") or []
    )


class TritonPods:
    """The ready Tritons of one recommender, switched together; found when first needed."""

    def __init__(
        self,
        urls: Callable[[], Sequence[str]],
        ensemble: str = ENSEMBLE,
        version_dir: Callable[[int], str] = triton.version_dir,
    ) -> None:
        self._urls = urls
        self.ensemble = ensemble
        self.version_dir = version_dir

    @classmethod
    def at(
        cls,
        urls: Sequence[str],
        ensemble: str = ENSEMBLE,
        version_dir: Callable[[int], str] = triton.version_dir,
    ) -> TritonPods:
        return cls(lambda: list(urls), ensemble, version_dir)

    @classmethod
    def of(cls, cluster: Cluster, owner: Owner, ensemble: str) -> TritonPods:
        """`$RECSYS_TRITON_URL` if set, else the ready addresses of `<name>-triton`'s Endpoints.

        Versions are `/models/<N>` as the pods mount the model volume; in local mode the
        folder the pipelines publish to (adapters/pipelines.py `storage_for`).
        """

        def discover() -> list[str]:
            override = os.environ.get(URL_ENV)
            if override:
                return [override]
            found = cluster.get("v1", "Endpoints", owner.child_name(triton.COMPONENT), owner.namespace)
            return endpoint_urls(found)

        if local_mode():
            repository = storage_for(owner.namespace, owner.name).model_repository
            return cls(discover, ensemble, lambda version: f"{repository}/{version}")
        return cls(discover, ensemble)

    @property
    def urls(self) -> list[str]:
        return list(self._urls())

    def served(self) -> dict[str, list[str]]:
        """url -> version folders its models serve, most served first; []: none, or no answer.

        A pod that does not answer serves nobody either; when it restarts it renders the
        version its template names (status.model.currentVersion).
        """
        import tritonclient.http as httpclient

        found: dict[str, list[str]] = {}
        for url in self.urls:
            client = httpclient.InferenceServerClient(url, connection_timeout=5.0, network_timeout=30.0)
            try:
                found[url] = [d for d, _ in Counter(served_version_dirs(client).values()).most_common()]
            except Exception:  # unreachable or not a Triton: see the docstring
                found[url] = []
            finally:
                client.close()
        return found

    def switch(self, version: int) -> RolloutResult | None:
        """Every pod onto `version_dir(version)`; None when no pod served a version to switch from."""
        target = self.version_dir(version)
        done: list[tuple[str, str]] = []
        for url, before in self.served().items():
            if not before:
                continue  # popularity only (started before the first version), or no answer
            try:
                result = switch_triton(url, target, self.ensemble)
            except RolloutError:  # no versioned model loaded after all: it starts on the template's
                continue
            if result.transition != "UpToDate":
                undone = "".join(self._back(u, b) for u, b in done if b != target)
                return result.model_copy(update={"message": f"Triton {url}: {result.message}{undone}"})
            done.append((url, before[0]))
        if not done:
            return None
        return RolloutResult(
            model=self.ensemble,
            current_version=version,
            previous_version=version_number(done[0][1]),
            transition="UpToDate",
            message=f"{len(done)} Triton pods switched",
        )

    def _back(self, url: str, version_dir: str) -> str:
        back = switch_triton(url, version_dir, self.ensemble)
        if back.transition == "UpToDate":
            return f"; {url} switched back to {version_dir}"
        return f"; switching {url} back to {version_dir} failed too: {back.message}"
