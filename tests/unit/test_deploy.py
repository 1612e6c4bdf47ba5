"""deploy/: kustomize renders offline, RBAC is least privilege, Argo CD health checks behave."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from recsys_local.testbed.argocd import health
from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests.common import Owner
from recsys_operator.manifests.desired import desired_objects
from recsys_operator.manifests.monitoring import service_monitors

ROOT = Path(__file__).resolve().parents[2]
HEALTH = ROOT / "deploy" / "argocd" / "health" / "recsys.io"


@cache
def _kustomize(path: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / path)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def test_operator_base_renders_with_crds_first_in_the_sync_order() -> None:
    objects = _kustomize("deploy/base")
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    assert {c["metadata"]["name"] for c in crds} == {"recommendersystems.recsys.io", "trainingruns.recsys.io"}
    assert all(c["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1" for c in crds)
    assert _one(objects, "Deployment")["metadata"]["namespace"] == "recsys-system"


def test_operator_runs_non_root_with_a_read_only_root_filesystem() -> None:
    pod = _one(_kustomize("deploy/base"), "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["image"] == "ghcr.io/recsys-operator/operator:0.1.0"


def _rules() -> list[dict[str, Any]]:
    return list(_one(_kustomize("deploy/base"), "ClusterRole")["rules"])


def test_rbac_has_no_wildcards() -> None:
    for rule in _rules():
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule


def _allowed(group: str, resource: str, verb: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in _rules()
    )


def test_rbac_allows_everything_the_operator_applies() -> None:
    plural = {
        "ConfigMap": "configmaps",
        "PersistentVolumeClaim": "persistentvolumeclaims",
        "Service": "services",
        "StatefulSet": "statefulsets",
        "NetworkPolicy": "networkpolicies",
        "Deployment": "deployments",
        "HorizontalPodAutoscaler": "horizontalpodautoscalers",
        "ServiceMonitor": "servicemonitors",
    }
    owner = Owner(name="r", namespace="n", uid="u")
    for obj in [*desired_objects(owner, RecommenderSystemSpec()), *service_monitors(owner)]:
        group = obj["apiVersion"].rpartition("/")[0]
        for verb in ("get", "create", "patch"):
            assert _allowed(group, plural[obj["kind"]], verb), (obj["kind"], verb)
    assert _allowed("recsys.io", "recommendersystems/status", "patch")


def test_monitoring_overlay_scrapes_the_operator_metrics_port_and_ships_the_dashboard() -> None:
    objects = _kustomize("deploy/monitoring")
    monitor = _one(objects, "ServiceMonitor")
    service = yaml.safe_load((ROOT / "deploy" / "base" / "metrics_service.yaml").read_text())
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    dashboard = _one(objects, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (ROOT / "deploy" / "monitoring" / "grafana-dashboard.json").read_text()
    assert dashboard["data"]["grafana-dashboard.json"] == shipped


def test_argocd_config_map_carries_exactly_the_tested_lua_files() -> None:
    data = _one(_kustomize("deploy/argocd"), "ConfigMap")["data"]
    for kind in ("RecommenderSystem", "TrainingRun"):
        assert (
            data[f"resource.customizations.health.recsys.io_{kind}"]
            == (HEALTH / kind / "health.lua").read_text()
        )


def test_samples_sync_after_the_crds_and_the_operator() -> None:
    for obj in _kustomize("deploy/samples"):
        assert obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "1"


def _cases() -> list[tuple[str, dict[str, Any]]]:
    return [
        (kind.name, case)
        for kind in sorted(HEALTH.iterdir())
        for case in yaml.safe_load((kind / "health_test.yaml").read_text())["tests"]
    ]


@pytest.mark.parametrize(
    ("kind", "case"), _cases(), ids=lambda v: v if isinstance(v, str) else v["inputPath"]
)
def test_argocd_health_lua_matches_its_test_cases(kind: str, case: dict[str, Any]) -> None:
    """Runs health.lua like Argo CD does: `obj` is the resource, the script returns {status, message}."""
    obj = yaml.safe_load((HEALTH / kind / case["inputPath"]).read_text())
    assert health(ROOT, kind, obj) == case["healthStatus"]


def test_every_argocd_health_status_kind_is_covered() -> None:
    statuses = {case["healthStatus"]["status"] for kind, case in _cases() if kind == "RecommenderSystem"}
    assert statuses == {"Healthy", "Progressing", "Degraded", "Suspended"}


def _ports(node: Any) -> list[dict[str, Any]]:
    """Every element of a `ports` list anywhere in a manifest."""
    if isinstance(node, dict):
        found = (
            [p for p in node.get("ports") or [] if isinstance(p, dict)]
            if isinstance(node.get("ports"), list)
            else []
        )
        return found + [p for v in node.values() for p in _ports(v)]
    if isinstance(node, list):
        return [p for v in node for p in _ports(v)]
    return []


@pytest.mark.parametrize("overlay", ["deploy/base", "deploy/testbed", "deploy/webhook"])
def test_every_port_names_its_protocol_for_server_side_apply(overlay: str) -> None:
    """Before Kubernetes 1.26 server-side apply refuses a port list element without `protocol`."""
    ports = _ports(_kustomize(overlay))
    assert ports and all(p.get("protocol") == "TCP" for p in ports), [p for p in ports if "protocol" not in p]


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_every_example_is_a_valid_recommender(example: str) -> None:
    from recsys_operator.reconcilers.recommender_system import spec_problems

    (document,) = [d for d in yaml.safe_load_all((ROOT / "examples" / example).read_text()) if d]
    assert document["kind"] == "RecommenderSystem"
    spec, problems = spec_problems(document["spec"])
    assert spec is not None and problems == []
