"""GPU node capacity as a Karpenter NodePool (the preferred path on EKS)."""

from __future__ import annotations

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests.common import Manifest, Owner

GPU_TAINT = {"key": "nvidia.com/gpu", "effect": "NoSchedule"}


def node_pool(owner: Owner, spec: RecommenderSystemSpec) -> Manifest:
    """A GPU NodePool capped at `maxNodes` GPUs, tainted so only GPU workloads land there.

    NodePools are cluster-scoped: a namespaced owner cannot own them (garbage collection
    ignores such references), so they carry labels and the operator deletes them itself.
    Karpenter has no minimum: `minNodes` applies to EKS node groups only.
    """
    cap = spec.capacity
    labels = owner.labels("capacity") | {"recsys.io/namespace": owner.namespace}
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": cap.node_pool or owner.child_name("gpu"), "labels": labels},
        "spec": {
            "template": {
                "metadata": {"labels": {"recsys.io/gpu": "true"}},
                "spec": {
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": cap.instance_types,
                        },
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                    ],
                    "taints": [GPU_TAINT],
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                },
            },
            "limits": {"nvidia.com/gpu": str(cap.max_nodes)},
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "5m"},
        },
    }
