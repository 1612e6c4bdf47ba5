"""Operator-wide kopf settings: our own domain for annotations and the finalizer."""

from __future__ import annotations

import os
from typing import Any

import kopf

from recsys_operator import metrics
from recsys_operator.api import GROUP
from recsys_operator.handlers import admission

METRICS_PORT_ENV = "RECSYS_METRICS_PORT"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = 20  # logging.INFO: transitions become Kubernetes Events
    settings.watching.server_timeout = 270
    admission.configure(settings, os.environ)  # RECSYS_WEBHOOK: off by default
    port = int(os.environ.get(METRICS_PORT_ENV, "9090"))
    if port:
        metrics.serve(port)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else $KUBECONFIG read now (not when a client was imported)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return kopf.login_with_service_account(**kwargs)
    return kopf.login_with_kubeconfig(**kwargs)
