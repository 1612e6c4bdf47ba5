"""deploy/webhook: the rendered overlay points the API server at what the operator serves.

The static configuration's service reference cannot be exercised on the loopback API
server (no kube-proxy, no pods); these checks tie its names, paths and ports to the code.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kopf
import yaml

from recsys_operator.api import GROUP, VERSION
from recsys_operator.handlers import admission

ROOT = Path(__file__).resolve().parents[3]


@cache
def _render(folder: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / folder)], capture_output=True, text=True, check=True
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def _one(kind: str, folder: str = "deploy/webhook") -> dict[str, Any]:
    (found,) = [o for o in _render(folder) if o["kind"] == kind]
    return found


def _container() -> dict[str, Any]:
    (container,) = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = container
    return found


def test_the_overlay_adds_the_webhook_and_leaves_the_base_as_it_was() -> None:
    base = {(o["kind"], o["metadata"]["name"]) for o in _render("deploy/base")}
    overlay = {(o["kind"], o["metadata"]["name"]) for o in _render("deploy/webhook")}
    assert overlay - base == {
        ("Issuer", "recsys-operator-webhook"),
        ("Certificate", "recsys-operator-webhook"),
        ("Service", "recsys-operator-webhook"),
        ("ValidatingWebhookConfiguration", "recsys-operator.recsys.io"),
    }
    (base_container,) = _one("Deployment", "deploy/base")["spec"]["template"]["spec"]["containers"]
    base_env = {e["name"] for e in base_container.get("env", [])}
    assert admission.ENABLE_ENV not in base_env  # off by default
    # Static configuration + cert-manager: the ClusterRole needs nothing on admissionregistration.
    assert _one("ClusterRole") == _one("ClusterRole", "deploy/base")


def test_the_operator_serves_the_mounted_certificate_on_the_service_port() -> None:
    container = _container()
    env = {e["name"]: e.get("value") for e in container["env"]}
    config = admission.webhook_settings(env)
    assert config is not None and config.managed is None and config.cert_dir is not None
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(config.cert_dir)]
    volumes = {v["name"]: v for v in _one("Deployment")["spec"]["template"]["spec"]["volumes"]}
    secret = volumes[mount["name"]]["secret"]["secretName"]
    certificate = _one("Certificate")
    assert secret == certificate["spec"]["secretName"]
    (port,) = [p for p in container["ports"] if p["containerPort"] == config.port]
    (service,) = [
        o
        for o in _render("deploy/webhook")
        if o["kind"] == "Service" and o["metadata"]["name"].endswith("-webhook")
    ]
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    assert f"{name}.{namespace}.svc" in certificate["spec"]["dnsNames"]
    configuration = _one("ValidatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{certificate['metadata']['namespace']}/{certificate['metadata']['name']}"
    )
    for hook in configuration["webhooks"]:
        ref = hook["clientConfig"]["service"]
        assert (ref["name"], ref["namespace"], ref["port"]) == (name, namespace, service_port["port"])


def test_each_static_webhook_reaches_its_kopf_handler_for_creates_and_updates() -> None:
    handlers = {h.id: h for h in kopf.get_default_registry()._webhooks.get_all_handlers()}
    plurals = {admission.RS_WEBHOOK: "recommendersystems", admission.TR_WEBHOOK: "trainingruns"}
    hooks = _one("ValidatingWebhookConfiguration")["webhooks"]
    assert len(hooks) == len(plurals)
    for hook in hooks:
        handler_id = hook["clientConfig"]["service"]["path"].removeprefix("/")  # kopf serves /<handler id>
        handler = handlers[handler_id]
        (rule,) = hook["rules"]
        assert rule["resources"] == [plurals[handler_id]]
        assert (rule["apiGroups"], rule["apiVersions"]) == ([GROUP], [VERSION])
        assert sorted(rule["operations"]) == sorted(handler.operations or [])
        assert hook["failurePolicy"] == ("Ignore" if handler.ignore_failures else "Fail")
        assert hook["sideEffects"] == "None"
