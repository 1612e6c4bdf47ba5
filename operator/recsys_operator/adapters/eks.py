"""EKS managed node groups through boto3: keep a GPU node group's min/max where the spec says.

Readiness is read from `describe_nodegroup` (status ACTIVE with the wanted scaling): it is
the state of truth for both our updates and anyone else's, so no update id is tracked.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class CapacityState(BaseModel):
    ready: bool
    message: str
    update_id: str | None = None


class EksNodeGroups:
    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def from_environment(cls, region: str | None = None, endpoint_url: str | None = None) -> EksNodeGroups:
        import boto3

        return cls(boto3.client("eks", region_name=region, endpoint_url=endpoint_url))

    def reconcile(self, cluster: str, node_group: str, min_nodes: int, max_nodes: int) -> CapacityState:
        group = self.client.describe_nodegroup(clusterName=cluster, nodegroupName=node_group)["nodegroup"]
        scaling = group["scalingConfig"]
        if (scaling["minSize"], scaling["maxSize"]) != (min_nodes, max_nodes):
            desired = min(max(scaling.get("desiredSize", min_nodes), min_nodes), max_nodes)
            update = self.client.update_nodegroup_config(
                clusterName=cluster,
                nodegroupName=node_group,
                scalingConfig={"minSize": min_nodes, "maxSize": max_nodes, "desiredSize": desired},
            )["update"]
            return CapacityState(
                ready=False,
                message=f"{cluster}/{node_group}: scaling {scaling['minSize']}-{scaling['maxSize']} "
                f"-> {min_nodes}-{max_nodes}",
                update_id=update["id"],
            )
        if group.get("status") != "ACTIVE":
            return CapacityState(ready=False, message=f"{cluster}/{node_group} is {group.get('status')}")
        return CapacityState(ready=True, message=f"{cluster}/{node_group}: {min_nodes}-{max_nodes} nodes")
