"""NetworkPolicies: who may open a connection to which component of one recommender.

Ingress only (egress stays open: Triton, the API and the event service reach Valkey, the
API reaches Triton, and a provisioned store needs no outside access anyway). A pod that
any policy selects accepts only what a policy allows; the kubelet's probes come from the
node and are not subject to these policies on common CNIs.

- Valkey: Triton (seen-filter and user-feature steps), the event service, the API
  (popularity fallback), training steps and the operator (filter provisioning, key clean-up).
- Triton: HTTP and gRPC from the API and from the operator (repository API and canary of a
  rollout); the metrics port from Prometheus, in any namespace.
- API and event service: their HTTP port from anywhere (they are the front doors).

Peers of the same recommender are matched by `app.kubernetes.io/instance` and
`app.kubernetes.io/component`. Training steps must carry both labels
(`component: training`) and run in the recommender's namespace; the operator and
Prometheus are matched by `app.kubernetes.io/name` in any namespace.
"""

from __future__ import annotations

from typing import Any

from recsys_operator.manifests import api, events, triton, valkey
from recsys_operator.manifests.common import Manifest, Owner
from recsys_operator.manifests.training import COMPONENT as TRAINING

OPERATOR_POD = {"app.kubernetes.io/name": "recsys-operator"}  # deploy/base/deployment.yaml
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}  # kube-prometheus-stack, Prometheus operator
VALKEY_CLIENTS = (triton.COMPONENT, events.COMPONENT, api.COMPONENT, TRAINING)


def _own(owner: Owner, *components: str) -> dict[str, Any]:
    """Pods of this recommender (same namespace) with one of `components`."""
    return {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/instance": owner.name},
            "matchExpressions": [
                {"key": "app.kubernetes.io/component", "operator": "In", "values": list(components)}
            ],
        }
    }


def _anywhere(labels: dict[str, str]) -> dict[str, Any]:
    """Pods with `labels` in any namespace."""
    return {"namespaceSelector": {}, "podSelector": {"matchLabels": dict(labels)}}


def _ports(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _policy(owner: Owner, component: str, ingress: list[dict[str, Any]]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": owner.metadata(component),
        "spec": {
            "podSelector": {"matchLabels": owner.selector(component)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }


def valkey_policy(owner: Owner) -> Manifest:
    return _policy(
        owner,
        valkey.COMPONENT,
        [
            {
                "from": [_own(owner, *VALKEY_CLIENTS), _anywhere(OPERATOR_POD)],
                "ports": _ports(valkey.PORT),
            }
        ],
    )


def triton_policy(owner: Owner) -> Manifest:
    return _policy(
        owner,
        triton.COMPONENT,
        [
            {
                "from": [_own(owner, api.COMPONENT), _anywhere(OPERATOR_POD)],
                "ports": _ports(triton.HTTP, triton.GRPC),
            },
            {"from": [_anywhere(PROMETHEUS_POD)], "ports": _ports(triton.METRICS)},
        ],
    )


def open_http_policy(owner: Owner, component: str, port: int) -> Manifest:
    """A front door: its HTTP port from any source (no `from`), nothing else."""
    return _policy(owner, component, [{"ports": _ports(port)}])


def policies(owner: Owner, valkey_provisioned: bool) -> list[Manifest]:
    found = [
        triton_policy(owner),
        open_http_policy(owner, api.COMPONENT, api.PORT),
        open_http_policy(owner, events.COMPONENT, events.PORT),
    ]
    return [valkey_policy(owner), *found] if valkey_provisioned else found
