"""Names, labels and owner references shared by every child object.

Ports always name their protocol: server-side apply keys port lists by (port, protocol)
and, on Kubernetes before 1.26, rejects an element that leaves the key out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from recsys_operator.api import API_VERSION
from recsys_operator.api.recommender_system import KIND

MANAGER = "recsys-operator"
Manifest = dict[str, Any]


class Owner(BaseModel):
    """The parent RecommenderSystem as the builders need it (from kopf's body)."""

    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    uid: str

    def child_name(self, component: str) -> str:
        return f"{self.name}-{component}"

    def labels(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": "recsys",
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/managed-by": MANAGER,
        }

    def selector(self, component: str) -> dict[str, str]:
        """Immutable in Deployments/StatefulSets: never add labels here."""
        labels = self.labels(component)
        return {k: labels[k] for k in ("app.kubernetes.io/instance", "app.kubernetes.io/component")}

    def metadata(self, component: str, name: str | None = None) -> dict[str, Any]:
        return {
            "name": name or self.child_name(component),
            "namespace": self.namespace,
            "labels": self.labels(component),
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": self.name,
                    "uid": self.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }


# No pod the operator renders talks to the API server (the operator reads their state), so none
# gets a service account token: a compromised container holds no credentials to the cluster.
NO_API_TOKEN: dict[str, Any] = {"automountServiceAccountToken": False}

RESTRICTED_CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


# A pod being deleted keeps serving this long before its process is told to stop: kube-proxy
# takes a moment to drop it from the Service's endpoints, and a request sent there in between
# would be refused (measured in tests/cluster: 5 of ~500 requests when an API pod was deleted).
DRAIN_SECONDS = 5
DRAIN_BEFORE_STOP: dict[str, Any] = {"preStop": {"exec": {"command": ["sleep", str(DRAIN_SECONDS)]}}}


def service(owner: Owner, component: str, ports: dict[str, int]) -> Manifest:
    """ClusterIP Service for a component; each port targets the container port of that name."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owner.metadata(component),
        "spec": {
            "selector": owner.selector(component),
            "ports": [
                {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}
                for name, port in ports.items()
            ],
        },
    }
