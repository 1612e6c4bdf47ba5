"""The validating webhook's settings, certificate and verdicts (the real API server: tests/integration/kube)."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import kopf
import pytest
from cryptography import x509

from recsys_operator.handlers import admission
from recsys_operator.reconcilers.recommender_system import spec_problems

ON = {admission.ENABLE_ENV: "1"}
TOO_FEW_CANDIDATES = {"ranking": {"topK": 10}, "reranking": {"numItems": 20}}
REF = {"recommenderRef": {"name": "homepage"}}
# kopf's decorator types them as its WebhookFn protocol (every kwarg required); call them plainly.
VALIDATE_RS: Any = admission.validate_recommender_system
VALIDATE_TR: Any = admission.validate_training_run


@pytest.mark.parametrize("value", [None, "", "0", "false", "Off", "no"])
def test_the_webhook_is_off_unless_asked(value: str | None) -> None:
    env = {} if value is None else {admission.ENABLE_ENV: value}
    assert admission.webhook_settings(env) is None
    settings = kopf.OperatorSettings()
    admission.configure(settings, env)
    # kopf refuses to start with validate handlers and no server: the dormant one never listens.
    assert isinstance(settings.admission.server, admission.DormantServer)
    assert settings.admission.managed is None


def test_settings_come_from_the_environment() -> None:
    assert admission.webhook_settings(ON) == admission.WebhookSettings()
    env = {
        **ON,
        admission.ADDR_ENV: "127.0.0.1",
        admission.PORT_ENV: "8443",
        admission.HOST_ENV: "operator.example",
        admission.CERT_DIR_ENV: "/etc/webhook/tls",
        admission.MANAGED_ENV: "recsys.recsys.io",
    }
    assert admission.webhook_settings(env) == admission.WebhookSettings(
        addr="127.0.0.1",
        port=8443,
        host="operator.example",
        cert_dir=Path("/etc/webhook/tls"),
        managed="recsys.recsys.io",
    )


def test_a_mounted_certificate_is_served_and_its_ca_is_the_bundle(tmp_path: Path) -> None:
    cert, key = admission.self_signed_certificate(["recsys-operator-webhook.recsys-system.svc"])
    (tmp_path / "tls.crt").write_bytes(cert)
    (tmp_path / "tls.key").write_bytes(key)
    settings = kopf.OperatorSettings()
    config = admission.configure(settings, {**ON, admission.CERT_DIR_ENV: str(tmp_path)})
    assert config is not None and config.managed is None  # deploy/webhook ships a static configuration
    server = settings.admission.server
    assert isinstance(server, kopf.WebhookServer)
    cadata, context = server._build_ssl()  # loads the pair: a mismatched key would raise here
    assert cadata == cert and context is not None
    assert server.port == 9443


def test_without_a_mount_a_self_signed_certificate_names_the_reachable_address() -> None:
    settings = kopf.OperatorSettings()
    admission.configure(
        settings, {**ON, admission.ADDR_ENV: "127.0.0.1", admission.MANAGED_ENV: "x.recsys.io"}
    )
    assert settings.admission.managed == "x.recsys.io"
    server = settings.admission.server
    assert isinstance(server, kopf.WebhookServer)
    cadata, _ = server._build_ssl()
    assert cadata is not None
    cert = x509.load_pem_x509_certificate(cadata)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca  # its own CA


def test_the_self_signed_key_is_removed_when_the_operator_process_exits() -> None:
    code = (
        "import sys\n"
        "from recsys_operator.handlers import admission\n"
        "server = admission.webhook_server(admission.WebhookSettings(addr='127.0.0.1'))\n"
        "print(server.pkeyfile)\n"
        "sys.stdout.flush()\n"
        "assert open(server.pkeyfile).read().startswith('-----BEGIN PRIVATE KEY')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    key = Path(done.stdout.strip())
    assert key.name == "tls.key" and not key.parent.exists()


@pytest.mark.parametrize(
    "spec",
    [
        TOO_FEW_CANDIDATES,
        {"serving": {"replicas": 3, "maxReplicas": 2}, "capacity": {"provider": "karpenter"}},
        {"training": {"incrementalSchedule": "every night"}},
        {"filtering": {"windowDay": 3}},
    ],
)
def test_recommender_verdicts_are_the_reconcilers_messages(spec: dict[str, Any]) -> None:
    problems = admission.recommender_system_problems(spec)
    assert problems and problems == spec_problems(spec)[1]
    assert all(p.startswith("spec.") for p in problems)


def test_a_default_recommender_is_admitted() -> None:
    assert admission.recommender_system_problems({}) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, "spec.recommenderRef"),
        ({**REF, "promte": "Manual"}, "spec.promte"),
        ({**REF, "parameters": {"trainDay": "3"}}, "unknown pipeline parameter 'trainDay'"),
        ({**REF, "parameters": {"models.twoTower.epochs": "0"}}, "models.twoTower.epochs"),
        ({**REF, "parameters": {"newDays": "[3]", "evalDay": "3"}}, "evalDay must not be one of newDays"),
        (
            {**REF, "parameters": {"trainDays": "[1]"}, "dataWindow": {"start": "2026-01-01T00:00:00Z"}},
            "dataWindow and trainDays/newDays",
        ),
    ],
)
def test_training_run_verdicts_name_the_field(spec: dict[str, Any], expected: str) -> None:
    problems = admission.training_run_problems(spec)
    assert any(expected in p for p in problems), problems


def test_training_run_overrides_the_pipeline_accepts_are_admitted() -> None:
    spec = {**REF, "type": "Incremental", "parameters": {"models.twoTower.epochs": "2", "evalDay": "4"}}
    assert admission.training_run_problems(spec) == []


def _body(spec: dict[str, Any], finalizers: list[str] | None = None, name: str = "homepage") -> kopf.Body:
    meta = {"name": name, "finalizers": finalizers or []}
    return kopf.Body(cast(kopf.RawBody, {"metadata": meta, "spec": spec}))


def test_a_rejection_names_every_problem_with_422() -> None:
    spec = {**TOO_FEW_CANDIDATES, "serving": {"replicas": 3, "maxReplicas": 2}}
    with pytest.raises(kopf.AdmissionError) as caught:
        VALIDATE_RS(_body(spec), operation="CREATE", old=None)
    assert caught.value.code == admission.UNPROCESSABLE
    assert "spec.reranking.numItems" in str(caught.value) and "spec.serving.replicas" in str(caught.value)


def test_metadata_only_updates_of_an_earlier_object_pass_but_spec_changes_are_checked() -> None:
    old = _body(TOO_FEW_CANDIDATES)
    VALIDATE_RS(_body(TOO_FEW_CANDIDATES, ["recsys.io/finalizer"]), operation="UPDATE", old=old)
    with pytest.raises(kopf.AdmissionError):
        VALIDATE_RS(_body({**TOO_FEW_CANDIDATES, "suspend": True}), operation="UPDATE", old=old)
    with pytest.raises(kopf.AdmissionError, match=r"spec\.promte"):
        VALIDATE_TR(_body({**REF, "promte": "Manual"}), operation="CREATE", old=None)


def test_deletes_are_never_sent_to_the_webhook() -> None:
    handlers = kopf.get_default_registry()._webhooks.get_all_handlers()
    ours = {h.id: h for h in handlers if h.id in (admission.RS_WEBHOOK, admission.TR_WEBHOOK)}
    assert set(ours) == {admission.RS_WEBHOOK, admission.TR_WEBHOOK}
    for handler in ours.values():
        assert sorted(handler.operations or []) == ["CREATE", "UPDATE"]
        assert handler.ignore_failures  # failurePolicy Ignore: a stopped operator never blocks the API


def test_a_name_too_long_for_its_children_is_refused_at_admission() -> None:
    with pytest.raises(kopf.AdmissionError, match=r"metadata.name 'x{50}' makes the StatefulSet name"):
        VALIDATE_RS(_body({}, name="x" * 50), operation="CREATE", old=None)
    VALIDATE_RS(_body({}, name="x" * 45), operation="CREATE", old=None)
    # generateName: no name yet at admission, the reconciler checks it once there is one.
    assert admission.recommender_system_problems({}, {"generateName": "shop-"}) == []
