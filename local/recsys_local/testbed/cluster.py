"""A started test API server plus what tests do with it: CRDs, namespaces, kubectl.

Kept beside the launcher (not in a conftest) so tests and e2e scripts can import and
type against it; pytest's importlib mode cannot import one conftest from another.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from recsys_local.testbed.kube_apiserver import KubeApiServer
from recsys_operator.adapters.kube import server_message

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class CrdRejectedError(RuntimeError):
    """The server refused a CustomResourceDefinition; the message is the server's reason."""


class KubeCluster:
    """Handles to one running test cluster: Python client, kubectl, CRD and namespace helpers."""

    def __init__(self, server: KubeApiServer) -> None:
        self.server = server
        self.api: ApiClient = server.api_client()
        self.crds_applied_s: float | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.server.kubeconfig_path

    def kubectl(
        self, *args: str, check: bool = True, timeout_s: float = 60.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster only (never the user's ~/.kube/config)."""
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise FileNotFoundError("kubectl is not on PATH (the kube tests drive it like a user would)")
        done = subprocess.run(
            [kubectl, f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout_s,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stderr}\n{done.stdout}"
            )
        return done

    def apply_crds(self, paths: Iterable[Path], timeout_s: float = 30.0) -> list[str]:
        """Create (or replace) the CRDs in `paths` and wait until each is Established and served."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        ext = client.ApiextensionsV1Api(self.api)
        names = []
        # crds/ also holds a kustomization.yaml; only CRD documents are applied.
        for body in split_yaml_documents(list(paths)):
            if body.get("kind") != "CustomResourceDefinition":
                continue
            name = body["metadata"]["name"]
            try:
                ext.create_custom_resource_definition(body)
            except ApiException as exc:
                if exc.status != 409:
                    raise CrdRejectedError(f"{name}: HTTP {exc.status}: {server_message(exc)}") from exc
                current = ext.read_custom_resource_definition(name)
                body["metadata"]["resourceVersion"] = current.metadata.resource_version
                try:
                    ext.replace_custom_resource_definition(name, body)
                except ApiException as exc2:
                    raise CrdRejectedError(f"{name}: HTTP {exc2.status}: {server_message(exc2)}") from exc2
            names.append(name)
        for name in names:
            self.wait_crd_established(name, timeout_s)
        return names

    def wait_crd_established(self, name: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Established alone is not enough: discovery must list the plural before clients use it."""
        from kubernetes import client

        ext = client.ApiextensionsV1Api(self.api)
        deadline = time.monotonic() + timeout_s
        crd: Any = None
        while time.monotonic() < deadline:
            crd = ext.read_custom_resource_definition(name)
            conditions = {c.type: c.status for c in (crd.status.conditions or [])}
            if conditions.get("Established") == "True" and self._served(crd):
                return dict(self.api.sanitize_for_serialization(crd))
            time.sleep(0.1)
        state = crd.status.conditions if crd is not None else None
        raise TimeoutError(f"CRD {name} not established and served after {timeout_s} s: {state}")

    def _served(self, crd: Any) -> bool:
        from kubernetes.client.exceptions import ApiException

        group, plural = crd.spec.group, crd.spec.names.plural
        try:
            for version in crd.spec.versions:
                found, *_ = self.api.call_api(
                    f"/apis/{group}/{version.name}",
                    "GET",
                    response_type="object",
                    auth_settings=["BearerToken"],
                    _return_http_data_only=False,
                )
                if plural not in {r["name"] for r in found.get("resources", [])}:
                    return False
        except ApiException:
            return False
        return True

    def create_namespace(self, name: str) -> str:
        from kubernetes import client

        client.CoreV1Api(self.api).create_namespace({"metadata": {"name": name}})
        return name

    def delete_namespace(self, name: str) -> None:
        """Ask for deletion and move on: the namespace controller empties it in the background."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            client.CoreV1Api(self.api).delete_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def close(self) -> None:
        self.api.close()


def split_yaml_documents(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Every YAML document in `paths`, in order (samples may hold several)."""
    docs: list[dict[str, Any]] = []
    for path in paths:
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return docs
