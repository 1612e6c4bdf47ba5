"""The generated CRDs load on a real 1.20 API server and document themselves to kubectl."""

from __future__ import annotations

import time

from kubernetes import client

from recsys_operator.testing.cluster import KubeCluster


def test_generated_crds_are_accepted_and_become_established(kube_cluster: KubeCluster) -> None:
    ext = client.ApiextensionsV1Api(kube_cluster.api)
    for name in ("recommendersystems.recsys.io", "trainingruns.recsys.io"):
        crd = ext.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions["Established"] == "True", crd.status.conditions
        assert conditions["NamesAccepted"] == "True", crd.status.conditions
        # A non-structural schema would be served but flagged; ours must be clean.
        assert "NonStructuralSchema" not in conditions, crd.status.conditions


def test_short_names_and_the_recsys_category_are_served(kube_cluster: KubeCluster) -> None:
    resources = kube_cluster.kubectl("api-resources", "--api-group=recsys.io", "-o", "wide").stdout
    rows = {line.split()[0]: line for line in resources.splitlines()[1:]}
    assert "recsys" in rows["recommendersystems"]
    assert "tr" in rows["trainingruns"]
    assert all("recsys" in rows[plural].split()[-1] for plural in rows)  # CATEGORIES column


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
    assert "Seen-items filter" in text
    for field, description in {
        "windowDays": "hide interacted items for this many UTC days",
        "errorRate": "false-positive rate over the whole window",
        "backend": "native: Valkey BF.* commands",
        "capacity": "items per user per day",
    }.items():
        assert field in text, text
        assert description in text, text
