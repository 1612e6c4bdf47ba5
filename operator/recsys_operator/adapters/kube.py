"""The operator's only door to the Kubernetes API for child objects: server-side apply and reads."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Protocol

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
from urllib3.exceptions import HTTPError

from recsys_operator.manifests.common import MANAGER, Manifest


class KindNotServedError(LookupError):
    """The API server does not serve this kind (e.g. Karpenter's NodePool CRD is not installed)."""


class ClusterCallError(RuntimeError):
    """The API server refused a call on a child object, or could not be reached (`code` None).

    Carries what a status condition needs: the verb, the object and the server's own message
    (which names the offending field), so the failure is visible without the operator's log.
    """

    def __init__(self, verb: str, kind: str, name: str, code: int | None, message: str) -> None:
        self.verb, self.kind, self.name, self.code, self.message = verb, kind, name, code, message
        http = f"HTTP {code}" if code is not None else "no answer"
        super().__init__(f"{verb} {kind} {name}: {http}: {message}")

    @property
    def permanent(self) -> bool:
        """A 4xx other than conflict, timeout or throttling: the same request fails the same way."""
        return self.code is not None and 400 <= self.code < 500 and self.code not in (408, 409, 429)


def server_message(exc: ApiException) -> str:
    """The server's Status message (it names the offending field) instead of the whole HTTP dump."""
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        return str(exc.reason or exc)
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)


@contextmanager
def _call(verb: str, kind: str, name: str) -> Iterator[None]:
    try:
        yield
    except (NotFoundError, KindNotServedError):
        raise  # answers the callers handle themselves
    except ApiException as exc:
        raise ClusterCallError(verb, kind, name, exc.status, server_message(exc)) from exc
    except (HTTPError, OSError) as exc:
        raise ClusterCallError(verb, kind, name, None, str(exc)) from exc


class Cluster(Protocol):
    def apply(self, manifest: Manifest) -> Manifest: ...

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None: ...

    def select(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        label_selector: dict[str, str] | None = None,
        field_selector: dict[str, str] | None = None,
    ) -> list[Manifest]: ...

    def hpa_api_version(self) -> str: ...

    def patch_status(
        self, api_version: str, kind: str, name: str, namespace: str, status: Manifest
    ) -> None: ...

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool: ...


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
                # Explicit path: the client captures $KUBECONFIG once, when it is first imported.
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
            self._api_client = client.ApiClient()
        return DynamicClient(self._api_client)

    def _resource(self, api_version: str, kind: str) -> Any:
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as exc:
            raise KindNotServedError(f"{kind}.{api_version} is not served by this cluster") from exc

    def apply(self, manifest: Manifest) -> Manifest:
        """Raises ClusterCallError (the server's message kept) when the server refuses or fails,
        KindNotServedError when the kind is not served (also when its CRD went since discovery)."""
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        try:
            with _call("apply", kind, name):
                resource = self._resource(manifest["apiVersion"], kind)
                applied = resource.server_side_apply(
                    body=manifest,
                    name=name,
                    namespace=manifest["metadata"].get("namespace"),
                    field_manager=MANAGER,
                    force_conflicts=True,
                )
        except NotFoundError:
            # Apply creates what is missing, so a 404 is a gone namespace or a kind discovery
            # still lists but the server no longer serves (a CRD deleted): ask discovery afresh.
            self._dynamic.resources.invalidate_cache()
            self._resource(manifest["apiVersion"], kind)
            raise
        return dict(applied.to_dict())

    def get(self, api_version: str, kind: str, name: str, namespace: str | None) -> Manifest | None:
        """`namespace` None for cluster-scoped kinds (a StorageClass)."""
        try:
            with _call("get", kind, name):
                found = self._resource(api_version, kind).get(name=name, namespace=namespace)
        except NotFoundError:
            return None
        return dict(found.to_dict())

    def select(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        label_selector: dict[str, str] | None = None,
        field_selector: dict[str, str] | None = None,
    ) -> list[Manifest]:
        """Objects of a kind in a namespace, narrowed by equality selectors (pods of a component)."""
        with _call("list", kind, _selector(label_selector) or namespace):
            found = self._resource(api_version, kind).get(
                namespace=namespace,
                label_selector=_selector(label_selector),
                field_selector=_selector(field_selector),
            )
        return [dict(item) for item in found.to_dict().get("items") or []]

    def hpa_api_version(self) -> str:
        """autoscaling/v2 where served (Kubernetes >= 1.23), else v2beta2 (same fields we use)."""
        try:
            with _call("discover", "HorizontalPodAutoscaler", "autoscaling/v2"):
                self._resource("autoscaling/v2", "HorizontalPodAutoscaler")
        except KindNotServedError:
            return "autoscaling/v2beta2"
        return "autoscaling/v2"

    def patch_status(self, api_version: str, kind: str, name: str, namespace: str, status: Manifest) -> None:
        """Merge-patch another object's status (a TrainingRun reporting to its recommender)."""
        with _call("patch status of", kind, name):
            self._resource(api_version, kind).status.patch(
                body={"status": status},
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
            )

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
        """Delete if present, dependents in the background (a Job's pods); False when already gone."""
        try:
            with _call("delete", kind, name):
                self._resource(api_version, kind).delete(
                    name=name, namespace=namespace, body={"propagationPolicy": "Background"}
                )
        except (NotFoundError, KindNotServedError):
            return False
        return True


def _selector(pairs: dict[str, str] | None) -> str | None:
    return ",".join(f"{key}={value}" for key, value in sorted(pairs.items())) if pairs else None
