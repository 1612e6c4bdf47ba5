"""The validating webhook (RECSYS_WEBHOOK) on the real 1.20 API server: bad specs fail at apply.

The operator runs with KopfRunner, its webhook server on 127.0.0.1 with a self-signed
certificate, and kopf manages the ValidatingWebhookConfiguration (url + caBundle), so the
API server really calls it over TLS. One operator serves the whole module.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from recsys_local.testbed.cluster import KubeCluster
from recsys_local.testbed.wait import until
from recsys_operator.adapters.kube import server_message
from recsys_operator.api import API_VERSION, GROUP, VERSION
from recsys_operator.handlers import admission

RS_PLURAL, TR_PLURAL = "recommendersystems", "trainingruns"
QUIET: dict[str, Any] = {"suspend": True, "training": {"initial": False, "incrementalSchedule": None}}
TOO_FEW_CANDIDATES: dict[str, Any] = {**QUIET, "ranking": {"topK": 10}, "reranking": {"numItems": 20}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _body(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def _create(cluster: KubeCluster, namespace: str, kind: str, name: str, spec: dict[str, Any]) -> Any:
    plural = RS_PLURAL if kind == "RecommenderSystem" else TR_PLURAL
    return client.CustomObjectsApi(cluster.api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, _body(kind, name, spec)
    )


def _rejection(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == admission.UNPROCESSABLE, caught.value.body
    return server_message(caught.value)


class Admission:
    """The running operator, its managed configuration's name, and an object admitted before it."""

    def __init__(self, runner: KopfRunner, configuration: str, earlier: tuple[str, str]) -> None:
        self.runner, self.configuration, self.earlier = runner, configuration, earlier


@pytest.fixture(scope="module")
def webhook(kube_cluster: KubeCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admission]:
    # An invalid object stored while no webhook runs: the operator must still mark it InvalidSpec.
    earlier_ns = kube_cluster.create_namespace(f"admission-earlier-{secrets.token_hex(3)}")
    _create(kube_cluster, earlier_ns, "RecommenderSystem", "earlier", TOO_FEW_CANDIDATES)
    configuration = f"recsys-test-{secrets.token_hex(3)}.{GROUP}"
    registration = client.AdmissionregistrationV1Api(kube_cluster.api)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
        env.setenv("RECSYS_METRICS_PORT", "0")
        env.setenv("RECSYS_PIPELINE_RUNNER", "local")
        env.setenv("RECSYS_LOCAL_RUNS", str(tmp_path_factory.mktemp("runs")))
        env.setenv(admission.ENABLE_ENV, "1")
        env.setenv(admission.ADDR_ENV, "127.0.0.1")
        env.setenv(admission.PORT_ENV, str(_free_port()))
        env.setenv(admission.MANAGED_ENV, configuration)
        try:
            with KopfRunner(
                ["run", "-A", "--standalone", "-m", "recsys_operator.handlers"], timeout=60
            ) as runner:

                def configured() -> bool:
                    try:
                        hooks = registration.read_validating_webhook_configuration(configuration).webhooks
                    except ApiException:
                        return False
                    return len(hooks or []) == 2 and all(h.client_config.ca_bundle for h in hooks)

                until("kopf's managed ValidatingWebhookConfiguration", configured, timeout_s=30)
                yield Admission(runner, configuration, (earlier_ns, "earlier"))
        finally:
            kube_cluster.delete_namespace(earlier_ns)
            with contextlib.suppress(ApiException):
                registration.delete_validating_webhook_configuration(configuration)


def test_kopf_registers_one_webhook_per_kind_for_creates_and_updates(
    kube_cluster: KubeCluster, webhook: Admission
) -> None:
    hooks = (
        client.AdmissionregistrationV1Api(kube_cluster.api)
        .read_validating_webhook_configuration(webhook.configuration)
        .webhooks
    )
    by_name = {h.name: h for h in hooks}
    rs_hook = by_name[f"{admission.RS_WEBHOOK}.{webhook.configuration}"]
    assert rs_hook.rules[0].resources == [RS_PLURAL]
    assert sorted(rs_hook.rules[0].operations) == ["CREATE", "UPDATE"]  # deleting a bad object stays possible
    assert rs_hook.failure_policy == "Ignore"  # a stopped operator never blocks the API
    assert rs_hook.client_config.url.startswith("https://127.0.0.1:")
    assert by_name[f"{admission.TR_WEBHOOK}.{webhook.configuration}"].rules[0].resources == [TR_PLURAL]


def test_kubectl_apply_of_a_cross_field_violation_fails_with_the_operators_message(
    kube_cluster: KubeCluster, namespace: str, webhook: Admission
) -> None:
    manifest = yaml.safe_dump(_body("RecommenderSystem", "homepage", TOO_FEW_CANDIDATES))
    done = kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest, check=False)
    assert done.returncode != 0
    assert f'admission webhook "{admission.RS_WEBHOOK}.{webhook.configuration}" denied' in done.stderr
    assert "spec.reranking.numItems must not exceed spec.ranking.topK" in done.stderr
    listed = kube_cluster.kubectl("get", "recsys", "-n", namespace, "-o", "name")
    assert listed.stdout.strip() == ""  # nothing was stored


def test_every_problem_is_named_in_one_rejection_and_dry_runs_are_checked_too(
    kube_cluster: KubeCluster, namespace: str, webhook: Admission
) -> None:
    spec = {
        **TOO_FEW_CANDIDATES,
        "serving": {"replicas": 3, "maxReplicas": 2},
        "capacity": {"provider": "karpenter"},
        "training": {"initial": False, "incrementalSchedule": "every night"},
    }
    objects = client.CustomObjectsApi(kube_cluster.api)
    message = _rejection(
        lambda: objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, RS_PLURAL, _body("RecommenderSystem", "bad", spec), dry_run="All"
        )
    )
    for field in (
        "spec.reranking.numItems",
        "spec.serving.replicas",
        "spec.capacity.nodePool",
        "spec.training.incrementalSchedule",
    ):
        assert field in message, message


def test_a_valid_spec_passes_and_an_update_that_breaks_it_is_rejected(
    kube_cluster: KubeCluster, namespace: str, webhook: Admission
) -> None:
    _create(kube_cluster, namespace, "RecommenderSystem", "homepage", QUIET)
    objects = client.CustomObjectsApi(kube_cluster.api)
    message = _rejection(
        lambda: objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, RS_PLURAL, "homepage", {"spec": {"reranking": {"numItems": 500}}}
        )
    )
    assert "spec.reranking.numItems" in message
    objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, RS_PLURAL, "homepage", {"spec": {"ranking": {"topK": 300}}}
    )


def test_training_run_parameters_are_checked_at_apply_time(
    kube_cluster: KubeCluster, namespace: str, webhook: Admission
) -> None:
    ref = {"recommenderRef": {"name": "homepage"}}
    message = _rejection(
        lambda: _create(
            kube_cluster, namespace, "TrainingRun", "typo", {**ref, "parameters": {"trainDay": "3"}}
        )
    )
    assert "unknown pipeline parameter 'trainDay'" in message, message
    message = _rejection(
        lambda: _create(
            kube_cluster,
            namespace,
            "TrainingRun",
            "eval",
            {**ref, "parameters": {"newDays": "[3]", "evalDay": "3"}},
        )
    )
    assert "evalDay must not be one of newDays" in message, message
    _create(
        kube_cluster, namespace, "TrainingRun", "fine", {**ref, "parameters": {"models.twoTower.epochs": "2"}}
    )


def test_an_object_admitted_before_the_webhook_is_still_marked_and_can_be_fixed(
    kube_cluster: KubeCluster, webhook: Admission
) -> None:
    namespace, name = webhook.earlier
    objects = client.CustomObjectsApi(kube_cluster.api)

    def stalled() -> dict[str, Any] | None:
        obj = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, RS_PLURAL, name)
        found = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
        return obj if found.get("Stalled", {}).get("reason") == "InvalidSpec" else None

    obj = until("Stalled/InvalidSpec on the earlier object", stalled)
    # kopf's finalizer and annotations are metadata-only updates: the webhook lets them through.
    assert f"{GROUP}/finalizer" in obj["metadata"]["finalizers"]
    assert "spec.reranking.numItems" in json.dumps(obj["status"]["conditions"])
    message = _rejection(
        lambda: objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, RS_PLURAL, name, {"spec": {"suspend": False}}
        )
    )
    assert "spec.reranking.numItems" in message
    objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, RS_PLURAL, name, {"spec": {"reranking": {"numItems": 10}}}
    )


def test_unknown_fields_never_reach_the_webhook_on_1_20(
    kube_cluster: KubeCluster, namespace: str, webhook: Admission
) -> None:
    """The API server prunes them while decoding, before admission: a known limit, recorded here."""
    created = _create(
        kube_cluster, namespace, "RecommenderSystem", "typo", {**QUIET, "filtering": {"windowDay": 3}}
    )
    assert "windowDay" not in created["spec"]["filtering"]
    assert created["spec"]["filtering"]["windowDays"] == 7  # the default applies
