"""The generated CRDs load on a real 1.20 API server and document themselves to kubectl."""

from __future__ import annotations

import json
import time

from kubernetes import client

from recsys_local.testbed.cluster import KubeCluster
from recsys_operator.api import API_VERSION
from recsys_operator.api.crd import CATEGORY


def test_generated_crds_are_accepted_and_become_established(kube_cluster: KubeCluster) -> None:
    ext = client.ApiextensionsV1Api(kube_cluster.api)
    for name in ("recommendersystems.recsys.io", "trainingruns.recsys.io"):
        crd = ext.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions["Established"] == "True", crd.status.conditions
        assert conditions["NamesAccepted"] == "True", crd.status.conditions
        # A non-structural schema would be served but flagged; ours must be clean.
        assert "NonStructuralSchema" not in conditions, crd.status.conditions


def test_short_names_and_the_recsys_all_category_are_served(kube_cluster: KubeCluster) -> None:
    resources = kube_cluster.kubectl("api-resources", "--api-group=recsys.io", "-o", "wide").stdout
    rows = {line.split()[0]: line for line in resources.splitlines()[1:]}
    assert "recsys" in rows["recommendersystems"]
    assert "tr" in rows["trainingruns"]
    assert all(rows[plural].split()[-1] == CATEGORY for plural in rows)  # CATEGORIES column


def test_a_recommender_is_got_by_its_short_name_and_both_kinds_by_the_category(
    kube_cluster: KubeCluster, namespace: str
) -> None:
    manifest = {
        "apiVersion": API_VERSION,
        "kind": "RecommenderSystem",
        "metadata": {"name": "shop"},
        "spec": {},
    }
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))
    # With `recsys` also a category, kubectl expanded this to both kinds and refused a NAME.
    named = kube_cluster.kubectl("get", "recsys", "shop", "-n", namespace, check=False)
    assert named.returncode == 0, named.stderr
    assert named.stdout.splitlines()[1].split()[0] == "shop"
    listed = kube_cluster.kubectl("get", CATEGORY, "-n", namespace, "-o", "name").stdout
    assert "recommendersystem.recsys.io/shop" in listed


def test_kubectl_explain_prints_the_filtering_field_descriptions(kube_cluster: KubeCluster) -> None:
    # The server publishes a new CRD's OpenAPI a moment after it is Established.
    deadline = time.monotonic() + 30
    while True:
        done = kube_cluster.kubectl("explain", "recommendersystem.spec.filtering", check=False)
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "windowDays is also the history memory" in " ".join(text.split())  # the spec field's description
    for field, description in {
        "windowDays": "hide interacted items for this many UTC days",
        "errorRate": "false-positive rate over the whole window",
        "backend": "native: Valkey BF.* commands",
        "capacity": "items per user per day",
    }.items():
        assert field in text, text
        assert description in text, text
