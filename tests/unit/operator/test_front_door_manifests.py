"""The recommendation API, the event service, the NetworkPolicies and their conditions.

The JSON configs are validated by the data plane's own config models, and the policies
are evaluated against the pod labels the builders (and deploy/base) actually produce.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from recsys_operator.api.recommender_system import RecommenderSystemSpec
from recsys_operator.manifests import api, events, network, triton, valkey, web
from recsys_operator.manifests.common import Owner
from recsys_operator.manifests.desired import desired_objects
from recsys_operator.status import Observed, reconcile_conditions
from recsys_workloads.contracts.access import AccessEnv
from recsys_workloads.contracts.events import EventServiceConfig
from recsys_workloads.serving.api.app import ApiConfig

ROOT = Path(__file__).resolve().parents[3]
OWNER = Owner(name="homepage", namespace="shop", uid="1234-abcd")
OTHER = Owner(name="other", namespace="shop", uid="5678-efgh")


def _spec(**fields: Any) -> RecommenderSystemSpec:
    return RecommenderSystemSpec.model_validate(fields)


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    return dict(workload["spec"]["template"]["spec"])


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = _pod(workload)["containers"]
    return dict(container)


def _config(config_map: dict[str, Any]) -> str:
    (text,) = config_map["data"].values()
    return str(text)


# --- configs: what the pods read is what the data plane parses --------------------------


def test_api_config_is_an_api_config_pointing_at_this_recommenders_triton_and_valkey() -> None:
    config = ApiConfig.model_validate_json(_config(api.config_map(OWNER, _spec(api={"timeoutS": 0.2}))))
    assert config.triton_url == "homepage-triton.shop.svc:8001"
    assert config.model == "homepage"
    assert config.timeout_s == 0.2
    assert config.redis_url == "redis://homepage-valkey.shop.svc:6379/0"
    assert config.events_url == "http://homepage-events.shop.svc:8081"
    assert config.catalog is None


def test_without_an_event_service_the_api_forwards_no_events() -> None:
    config = ApiConfig.model_validate_json(_config(api.config_map(OWNER, _spec(events={"replicas": 0}))))
    assert config.events_url == ""


def test_event_service_config_is_an_event_service_config_sharing_the_filter_layout() -> None:
    spec = _spec(filtering={"windowDays": 3}, events={"limits": {"maxBatch": 50}})
    raw = _config(events.config_map(OWNER, spec))
    config = EventServiceConfig.model_validate_json(raw)
    assert config.seen_filter == spec.filtering  # the same filter the serving steps read
    assert config.popularity == spec.popularity
    assert config.limits.max_batch == 50
    assert str(config.log_dir) == events.LOG_MOUNT
    assert str(config.catalog) == "/models/catalog"
    assert "writerId" not in json.loads(raw)  # per replica: its hostname, the pod name


def test_an_external_tls_valkey_with_a_password_keeps_the_password_out_of_config_maps() -> None:
    spec = _spec(
        featureStore={"onlineStore": {"address": "valkey.prod:6380", "tls": True, "passwordSecretRef": "vk"}}
    )
    for config_map in (api.config_map(OWNER, spec), events.config_map(OWNER, spec)):
        assert "rediss://valkey.prod:6380/0" in _config(config_map)
    for workload in (api.deployment(OWNER, spec), events.statefulset(OWNER, spec)):
        env = {e["name"]: e for e in _container(workload)["env"]}
        assert env[web.PASSWORD_ENV]["valueFrom"] == {"secretKeyRef": {"name": "vk", "key": "password"}}


AUTH: dict[str, dict[str, Any]] = {
    "api": {"auth": {"tokenSecretRef": {"name": "api-token"}}, "rateLimit": {"requestsPerSecond": 50}},
    "events": {"auth": {"tokenSecretRef": {"name": "events-token", "key": "bearer"}}},
}


def test_tokens_come_from_the_named_secrets_through_secret_key_refs_never_a_config_map() -> None:
    spec = _spec(**AUTH)
    api_env = {e["name"]: e for e in _container(api.deployment(OWNER, spec))["env"]}
    events_env = {e["name"]: e for e in _container(events.statefulset(OWNER, spec))["env"]}
    assert api_env[AccessEnv.TOKEN] == {
        "name": AccessEnv.TOKEN,
        "valueFrom": {"secretKeyRef": {"name": "api-token", "key": "token"}},
    }
    # The API forwards the demo page's clicks with the event service's token.
    assert api_env[AccessEnv.EVENTS_TOKEN]["valueFrom"] == {
        "secretKeyRef": {"name": "events-token", "key": "bearer"}
    }
    assert events_env[AccessEnv.TOKEN]["valueFrom"] == {
        "secretKeyRef": {"name": "events-token", "key": "bearer"}
    }
    assert AccessEnv.EVENTS_TOKEN not in events_env
    api_config = ApiConfig.model_validate_json(_config(api.config_map(OWNER, spec)))
    events_config = EventServiceConfig.model_validate_json(_config(events.config_map(OWNER, spec)))
    assert api_config.guard.token_required and events_config.guard.token_required
    assert api_config.guard.rate_limit.requests_per_second == 50
    assert events_config.guard.rate_limit.requests_per_second == 0  # the default: no limit


def test_without_auth_no_token_is_rendered_or_required() -> None:
    spec = _spec()
    for workload in (api.deployment(OWNER, spec), events.statefulset(OWNER, spec)):
        names = {e["name"] for e in _container(workload)["env"]}
        assert not names & {AccessEnv.TOKEN, AccessEnv.EVENTS_TOKEN}
    assert not ApiConfig.model_validate_json(_config(api.config_map(OWNER, spec))).guard.token_required
    no_events = _spec(events={"replicas": 0, **AUTH["events"]})
    names = {e["name"] for e in _container(api.deployment(OWNER, no_events))["env"]}
    assert AccessEnv.EVENTS_TOKEN not in names  # nothing to forward to


def test_a_secret_reference_is_a_name_and_a_key_not_a_value() -> None:
    for bad in ({"name": "Not_A_Name"}, {"name": "ok", "key": "bad key"}, {"value": "s3cret"}):
        with pytest.raises(ValueError):
            _spec(api={"auth": {"tokenSecretRef": bad}})


def test_the_fused_graph_is_what_triton_loads_and_the_api_calls() -> None:
    spec = _spec(serving={"graph": "fused"})
    assert ApiConfig.model_validate_json(_config(api.config_map(OWNER, spec))).model == "homepage_fused"
    (deployment,) = [
        o for o in desired_objects(OWNER, spec, model_version=1) if o["metadata"]["name"] == "homepage-triton"
        and o["kind"] == "Deployment"
    ]  # fmt: skip
    assert "--load-model=homepage_fused" in _container(deployment)["args"]


def test_a_config_change_rolls_the_pods_and_an_unrelated_change_does_not() -> None:
    def config_hash(**fields: Any) -> str:
        template = api.deployment(OWNER, _spec(**fields))["spec"]["template"]
        return str(template["metadata"]["annotations"][web.CONFIG_HASH_ANNOTATION])

    assert config_hash() == config_hash(api={"replicas": 3})
    assert config_hash() != config_hash(api={"timeoutS": 1.0})


# --- workloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workload", "kind", "subcommand"),
    [
        (api.deployment(OWNER, _spec()), "Deployment", "api"),
        (events.statefulset(OWNER, _spec()), "StatefulSet", "events"),
    ],
    ids=["api", "events"],
)
def test_front_doors_run_recsys_non_root_probed_on_healthz_and_readyz(
    workload: dict[str, Any], kind: str, subcommand: str
) -> None:
    assert workload["kind"] == kind
    container, pod = _container(workload), _pod(workload)
    assert container["command"] == ["recsys"]
    assert container["args"][:2] == [subcommand, "serve"]
    assert f"--config={web.CONFIG_MOUNT}/{subcommand}.json" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {p["httpGet"]["port"] for k, p in container.items() if k.endswith("Probe")} == {"http"}
    assert container["ports"][0]["name"] == "http"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config_volume["configMap"]["name"] == f"homepage-{subcommand}-config"
    selector = workload["spec"]["selector"]["matchLabels"]
    assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    assert selector["app.kubernetes.io/component"] == subcommand


def test_api_rolls_without_losing_capacity_and_takes_its_replicas_from_the_spec() -> None:
    deployment = api.deployment(OWNER, _spec(api={"replicas": 3, "resources": {"cpu": "2", "memory": "3Gi"}}))
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    resources = _container(deployment)["resources"]
    assert resources == {"requests": {"cpu": "2", "memory": "3Gi"}, "limits": {"memory": "3Gi"}}


def test_each_event_service_replica_writes_its_own_folder_of_one_shared_log_volume() -> None:
    spec = _spec(events={"replicas": 2, "storageClass": "nfs", "storage": "3Gi"})
    claim = events.log_volume_claim(OWNER, spec)
    assert claim["metadata"]["name"] == "homepage-event-log"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": "nfs",
        "resources": {"requests": {"storage": "3Gi"}},
    }
    statefulset = events.statefulset(OWNER, spec)
    assert statefulset["spec"]["replicas"] == 2
    container, pod = _container(statefulset), _pod(statefulset)
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["log"] == {"name": "log", "mountPath": events.LOG_MOUNT, "subPathExpr": "$(POD_NAME)"}
    assert mounts["models"]["readOnly"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in pod["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"log": "homepage-event-log", "models": "homepage-models"}


def test_zero_replicas_keep_the_objects_and_scale_the_workloads_down() -> None:
    spec = _spec(api={"replicas": 0}, events={"replicas": 0})
    assert api.deployment(OWNER, spec)["spec"]["replicas"] == 0
    assert events.statefulset(OWNER, spec)["spec"]["replicas"] == 0


def _ports(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ports" and isinstance(value, list):
                for port in value:
                    yield f"{path}.ports", port
            else:
                yield from _ports(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from _ports(item, path)


def test_every_port_of_every_child_names_its_protocol() -> None:
    """Server-side apply keys port lists by (port, protocol); 1.20 rejects an element without it."""
    found = [
        (o["metadata"]["name"], where, p) for o in desired_objects(OWNER, _spec()) for where, p in _ports(o)
    ]
    assert len(found) >= 15
    for name, where, port in found:
        assert port.get("protocol") == "TCP", (name, where, port)


def test_each_front_door_service_targets_its_named_container_port() -> None:
    for service, workload in (
        (api.service(OWNER), api.deployment(OWNER, _spec())),
        (events.service(OWNER), events.statefulset(OWNER, _spec())),
    ):
        (port,) = service["spec"]["ports"]
        (container_port,) = _container(workload)["ports"]
        assert (port["targetPort"], port["port"]) == (container_port["name"], container_port["containerPort"])
        assert service["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]
    assert events.statefulset(OWNER, _spec())["spec"]["serviceName"] == "homepage-events"


# --- NetworkPolicies, evaluated against real pod labels ------------------------------------


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr  # the only operator the builders use
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return dict(selector.get("matchLabels", {})).items() <= labels.items()


def _admits(policy: dict[str, Any], labels: dict[str, str], port: int, same_namespace: bool = True) -> bool:
    """Kubernetes' ingress semantics for the selectors the builders write."""
    for rule in policy["spec"]["ingress"]:
        if port not in {p["port"] for p in rule["ports"]}:
            continue
        peers = rule.get("from")
        if peers is None:
            return True
        for peer in peers:
            namespaces = peer.get("namespaceSelector")
            assert namespaces in (None, {}), peer  # {} is every namespace
            if (same_namespace or namespaces == {}) and _selects(peer["podSelector"], labels):
                return True
    return False


def _labels(workload: dict[str, Any]) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"]["labels"])


def _operator_pod_labels() -> dict[str, str]:
    deployment = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())
    return dict(deployment["spec"]["template"]["metadata"]["labels"])


SPEC = _spec()
POLICIES = {p["metadata"]["name"].removeprefix("homepage-"): p for p in network.policies(OWNER, True)}
PODS = {
    "triton": _labels(triton.deployment(OWNER, SPEC, "homepage")),
    "api": _labels(api.deployment(OWNER, SPEC)),
    "events": _labels(events.statefulset(OWNER, SPEC)),
    "valkey": _labels(valkey.statefulset(OWNER, SPEC)),
    "training": OWNER.labels("training"),
    "other-triton": _labels(triton.deployment(OTHER, SPEC, "homepage")),
    "stranger": {"app": "shop-frontend"},
    "prometheus": {"app.kubernetes.io/name": "prometheus"},
}


def test_each_policy_selects_exactly_its_components_pods() -> None:
    assert set(POLICIES) == {"valkey", "triton", "api", "events"}
    for component, policy in POLICIES.items():
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        selected = {pod for pod, labels in PODS.items() if _selects(policy["spec"]["podSelector"], labels)}
        assert selected == {component}


def test_valkey_admits_its_own_recommenders_clients_and_the_operator_only() -> None:
    policy = POLICIES["valkey"]
    admitted = {pod for pod, labels in PODS.items() if _admits(policy, labels, valkey.PORT)}
    assert admitted == {"triton", "api", "events", "training"}
    assert _admits(policy, _operator_pod_labels(), valkey.PORT, same_namespace=False)
    assert not _admits(policy, PODS["triton"], valkey.PORT, same_namespace=False)
    assert not _admits(policy, PODS["api"], 6380)


def test_triton_serves_the_api_and_the_operator_and_its_metrics_to_prometheus() -> None:
    policy = POLICIES["triton"]
    for port in (triton.GRPC, triton.HTTP):
        assert {pod for pod, labels in PODS.items() if _admits(policy, labels, port)} == {"api"}
        assert _admits(policy, _operator_pod_labels(), port, same_namespace=False)
    assert {pod for pod, labels in PODS.items() if _admits(policy, labels, triton.METRICS)} == {"prometheus"}
    assert _admits(policy, PODS["prometheus"], triton.METRICS, same_namespace=False)
    assert not _admits(policy, PODS["prometheus"], triton.GRPC, same_namespace=False)


@pytest.mark.parametrize(("door", "port"), [("api", api.PORT), ("events", events.PORT)])
def test_front_doors_take_http_from_anyone_and_nothing_else(door: str, port: int) -> None:
    policy = POLICIES[door]
    assert _admits(policy, PODS["stranger"], port, same_namespace=False)
    assert not _admits(policy, PODS["stranger"], port + 1, same_namespace=False)


def test_an_external_valkey_gets_no_policy_from_the_operator() -> None:
    names = [p["metadata"]["name"] for p in network.policies(OWNER, valkey_provisioned=False)]
    assert names == ["homepage-triton", "homepage-api", "homepage-events"]


# --- conditions ----------------------------------------------------------------------------

HEALTHY: dict[str, Any] = {
    "triton_desired": 1,
    "triton_ready": 1,
    "valkey_provisioned": True,
    "valkey_ready": True,
    "model_version": 3,
    "api_desired": 2,
    "api_ready": 2,
    "events_desired": 1,
    "events_ready": 1,
}


def _conditions(**changes: Any) -> dict[str, tuple[str, str, str]]:
    conditions = reconcile_conditions([], Observed(**{**HEALTHY, **changes}), generation=1)
    return {c.type: (c.status, c.reason, c.message) for c in conditions}


def test_every_front_door_ready_keeps_ready_true() -> None:
    conditions = _conditions()
    assert conditions["ApiReady"] == ("True", "ApiReady", "2/2 API replicas ready")
    assert conditions["EventServiceReady"] == (
        "True",
        "EventServiceReady",
        "1/1 event service replicas ready",
    )
    assert conditions["Ready"][:2] == ("True", "AllComponentsReady")


def test_a_front_door_short_of_replicas_makes_ready_false_naming_it() -> None:
    conditions = _conditions(api_ready=1)
    assert conditions["ApiReady"] == ("False", "ApiNotReady", "1/2 API replicas ready")
    assert conditions["Ready"] == ("False", "ApiNotReady", "ApiReady: 1/2 API replicas ready")
    conditions = _conditions(events_ready=0)
    assert conditions["Ready"][:2] == ("False", "EventServiceNotReady")
    assert conditions["Reconciling"][:2] == ("True", "Progressing")


def test_serving_is_named_before_the_front_doors_that_depend_on_it() -> None:
    assert _conditions(triton_ready=0, api_ready=0)["Ready"][1] == "TritonNotReady"


def test_a_front_door_the_spec_scales_to_zero_is_disabled_not_waited_for() -> None:
    conditions = _conditions(api_desired=0, api_ready=0, events_desired=0, events_ready=0)
    assert conditions["ApiReady"][:2] == ("True", "Disabled")
    assert (
        conditions["EventServiceReady"][2] == "spec.events.replicas is 0: the operator runs no event service"
    )
    assert conditions["Ready"][0] == "True"
