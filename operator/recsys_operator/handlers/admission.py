"""Validating admission webhook (optional): bad specs fail at `kubectl apply`, not afterwards.

Kubernetes 1.20 has no CEL, so the CRD schema cannot state cross-field rules; the same
checks the reconcilers report as `Stalled/InvalidSpec` run here, with the same messages.
Off unless `RECSYS_WEBHOOK` is set; the operator keeps marking InvalidSpec either way
(a webhook with failurePolicy Ignore is a convenience, never the only gate).

What a webhook cannot see on 1.20: fields the schema does not know are pruned while the
request is decoded, before admission, so a typo like `windowDay` reaches neither the
webhook nor the operator (it needs `fieldValidation=Strict`, Kubernetes >= 1.25).
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import ipaddress
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, ValidationError

from recsys_operator.api import GROUP, VERSION
from recsys_operator.api import recommender_system as rs
from recsys_operator.api import training_run as tr
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers.recommender_system import spec_problems
from recsys_workloads.contracts.pipelines import PipelineConfig, apply_overrides

ENABLE_ENV = "RECSYS_WEBHOOK"
ADDR_ENV = "RECSYS_WEBHOOK_ADDR"
PORT_ENV = "RECSYS_WEBHOOK_PORT"
HOST_ENV = "RECSYS_WEBHOOK_HOST"
CERT_DIR_ENV = "RECSYS_WEBHOOK_CERT_DIR"
MANAGED_ENV = "RECSYS_WEBHOOK_MANAGED"
OFF = frozenset({"", "0", "false", "off", "no"})
# Handler ids are the URL paths kopf serves (`/<id>`); deploy/webhook's static configuration names them.
RS_WEBHOOK = "validate-recommendersystem"
TR_WEBHOOK = "validate-trainingrun"
UNPROCESSABLE = 422  # what the API server answers for schema violations too


class WebhookSettings(BaseModel):
    """Where the webhook listens and how the API server finds and trusts it."""

    model_config = ConfigDict(frozen=True)

    addr: str = "0.0.0.0"
    port: int = 9443
    host: str | None = None  # URL host for a managed configuration; default: addr
    cert_dir: Path | None = None  # tls.crt + tls.key (a cert-manager Secret); None: self-signed
    managed: str | None = None  # ValidatingWebhookConfiguration kopf creates and keeps; None: static


def webhook_settings(env: Mapping[str, str]) -> WebhookSettings | None:
    """The webhook's settings from the environment; None when it is off (the default)."""
    if env.get(ENABLE_ENV, "").strip().lower() in OFF:
        return None
    cert_dir = env.get(CERT_DIR_ENV)
    return WebhookSettings(
        addr=env.get(ADDR_ENV) or "0.0.0.0",
        port=int(env.get(PORT_ENV) or 9443),
        host=env.get(HOST_ENV) or None,
        cert_dir=Path(cert_dir) if cert_dir else None,
        managed=env.get(MANAGED_ENV) or None,
    )


def self_signed_certificate(hostnames: list[str]) -> tuple[bytes, bytes]:
    """A PEM certificate (its own CA, SANs for every name) and its key, for a local server.

    kopf generates one with `certbuilder`/`oscrypto`; `cryptography` is already installed.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for name in dict.fromkeys(hostnames):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def webhook_server(config: WebhookSettings) -> kopf.WebhookServer:
    """kopf's HTTPS server with the mounted certificate, or a fresh self-signed one."""
    if config.cert_dir is not None:
        certfile, pkeyfile = config.cert_dir / "tls.crt", config.cert_dir / "tls.key"
    else:
        folder = Path(tempfile.mkdtemp(prefix="recsys-webhook-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # the private key goes with the process
        catch_all = config.addr in ("0.0.0.0", "::")
        reach = config.host or ("127.0.0.1" if catch_all else config.addr)
        cert, key = self_signed_certificate([reach] if catch_all else [reach, config.addr])
        certfile, pkeyfile = folder / "tls.crt", folder / "tls.key"
        certfile.write_bytes(cert)
        pkeyfile.touch(mode=0o600)
        pkeyfile.write_bytes(key)
    return kopf.WebhookServer(
        addr=config.addr, port=config.port, host=config.host, certfile=certfile, pkeyfile=pkeyfile
    )


class DormantServer:
    """The webhook is off: kopf refuses to start with validate handlers and no server; this never listens."""

    async def __call__(self, fn: Any) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover - never reached


def configure(settings: kopf.OperatorSettings, env: Mapping[str, str]) -> WebhookSettings | None:
    """Install the webhook server (or the dormant one) and, if asked, the managed configuration."""
    config = webhook_settings(env)
    if config is None:
        settings.admission.server = DormantServer()
        settings.admission.managed = None
        return None
    settings.admission.server = webhook_server(config)
    settings.admission.managed = config.managed
    return config


def recommender_system_problems(
    raw_spec: Mapping[str, Any], meta: Mapping[str, Any] | None = None
) -> list[str]:
    """Exactly what the reconciler would report as InvalidSpec (the name too, once it is known:
    a `generateName` object has none at admission)."""
    name = (meta or {}).get("name")
    owner = Owner(name=name, namespace=str((meta or {}).get("namespace") or ""), uid="") if name else None
    _, problems = spec_problems(raw_spec, owner)
    return problems


def training_run_problems(raw_spec: Mapping[str, Any]) -> list[str]:
    """Schema errors, then the `parameters` overrides against a default pipeline config.

    The reconciler applies them to the parent's config; unknown keys and values no config
    accepts fail the same way on any parent, which is what matters at apply time.
    """
    try:
        spec = tr.TrainingRunSpec.model_validate(raw_spec)
    except ValidationError as exc:
        return [
            f"spec.{'.'.join(str(part) for part in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
    try:
        apply_overrides(
            PipelineConfig(), spec.parameters, start=spec.data_window.start, end=spec.data_window.end
        )
    except ValueError as exc:
        return [f"spec.parameters: {exc}"]
    return []


def _spec(obj: Mapping[str, Any] | None) -> Any:
    return (obj or {}).get("spec") or {}


def _verdict(kind: str, problems: list[str]) -> None:
    if problems:
        raise kopf.AdmissionError(f"invalid {kind}: " + "; ".join(problems), code=UNPROCESSABLE)


def _spec_unchanged(body: Mapping[str, Any], kwargs: Mapping[str, Any]) -> bool:
    """Metadata-only updates (finalizers, kopf's annotations) of an object admitted earlier pass."""
    old = kwargs.get("old")
    return kwargs.get("operation") == "UPDATE" and old is not None and _spec(old) == _spec(body)


# kopf passes `operation` and `old` among the keyword arguments (its WebhookFn protocol lists neither).
@kopf.on.validate(
    GROUP, VERSION, rs.PLURAL, id=RS_WEBHOOK, operations=["CREATE", "UPDATE"], ignore_failures=True
)
def validate_recommender_system(body: kopf.Body, **kwargs: Any) -> None:
    if not _spec_unchanged(body, kwargs):
        _verdict(rs.KIND, recommender_system_problems(_spec(body), body.get("metadata")))


@kopf.on.validate(
    GROUP, VERSION, tr.PLURAL, id=TR_WEBHOOK, operations=["CREATE", "UPDATE"], ignore_failures=True
)
def validate_training_run(body: kopf.Body, **kwargs: Any) -> None:
    if not _spec_unchanged(body, kwargs):
        _verdict(tr.KIND, training_run_problems(_spec(body)))
