"""EKS managed node groups through boto3, against moto's EKS server on loopback.

moto implements DescribeNodegroup and UpdateNodegroupConfig (not DescribeUpdate), which is
what the adapter uses; real EKS goes through UPDATING before ACTIVE, moto applies at once.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from recsys_operator.adapters.eks import EksNodeGroups

ROLE = "arn:aws:iam::123456789012:role/eks"


@pytest.fixture
def eks() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its backends per process: start each test from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
    client = boto3.client(
        "eks",
        region_name="us-east-1",
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_cluster(name="shop", roleArn=ROLE, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    client.create_nodegroup(
        clusterName="shop",
        nodegroupName="gpu",
        nodeRole=ROLE,
        subnets=["subnet-1"],
        instanceTypes=["g5.xlarge"],
        scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 0},
    )
    yield client
    server.stop()


def test_scaling_bounds_are_updated_then_reported_ready(eks: Any) -> None:
    adapter = EksNodeGroups(eks)
    first = adapter.reconcile("shop", "gpu", min_nodes=1, max_nodes=4)
    assert not first.ready
    assert first.update_id
    assert "0-2 -> 1-4" in first.message
    scaling = eks.describe_nodegroup(clusterName="shop", nodegroupName="gpu")["nodegroup"]["scalingConfig"]
    assert (scaling["minSize"], scaling["maxSize"], scaling["desiredSize"]) == (1, 4, 1)
    second = adapter.reconcile("shop", "gpu", min_nodes=1, max_nodes=4)
    assert second.ready
    assert second.update_id is None


def test_an_unknown_node_group_is_an_aws_error(eks: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match=r"ResourceNotFoundException|not found"):
        EksNodeGroups(eks).reconcile("shop", "missing", 0, 1)
