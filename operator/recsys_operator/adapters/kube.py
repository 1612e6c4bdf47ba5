"""The operator's only door to the Kubernetes API for child objects: server-side apply and reads."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Protocol

from kubernetes import client, config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from recsys_operator.manifests.common import MANAGER, Manifest


class Cluster(Protocol):
    def apply(self, manifest: Manifest) -> Manifest: ...

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None: ...

    def hpa_api_version(self) -> str: ...

    def patch_status(
        self, api_version: str, kind: str, name: str, namespace: str, status: Manifest
    ) -> None: ...


class KubernetesCluster:
    """Server-side apply under the field manager `recsys-operator`, conflicts forced.

    Forcing is right for fields the operator owns (it is their only writer); fields it
    does not set (an HPA's replicas, a user's annotations) are never in its manifests.
    """

    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self._api_client = api_client

    @cached_property
    def _dynamic(self) -> DynamicClient:
        if self._api_client is None:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            self._api_client = client.ApiClient()
        return DynamicClient(self._api_client)

    def _resource(self, api_version: str, kind: str) -> Any:
        return self._dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, manifest: Manifest) -> Manifest:
        resource = self._resource(manifest["apiVersion"], manifest["kind"])
        applied = resource.server_side_apply(
            body=manifest,
            name=manifest["metadata"]["name"],
            namespace=manifest["metadata"].get("namespace"),
            field_manager=MANAGER,
            force_conflicts=True,
        )
        return dict(applied.to_dict())

    def get(self, api_version: str, kind: str, name: str, namespace: str) -> Manifest | None:
        try:
            found = self._resource(api_version, kind).get(name=name, namespace=namespace)
        except NotFoundError:
            return None
        return dict(found.to_dict())

    def hpa_api_version(self) -> str:
        """autoscaling/v2 where served (Kubernetes >= 1.23), else v2beta2 (same fields we use)."""
        try:
            self._resource("autoscaling/v2", "HorizontalPodAutoscaler")
        except ResourceNotFoundError:
            return "autoscaling/v2beta2"
        return "autoscaling/v2"

    def patch_status(self, api_version: str, kind: str, name: str, namespace: str, status: Manifest) -> None:
        """Merge-patch another object's status (a TrainingRun reporting to its recommender)."""
        resource = self._resource(api_version, kind)
        resource.status.patch(
            body={"status": status},
            name=name,
            namespace=namespace,
            content_type="application/merge-patch+json",
        )
