"""A real kube-apiserver 1.20.2 (+ etcd, + kube-controller-manager) on free loopback ports.

The operator's CRDs, status subresource, defaulting and kopf handlers are only believable
against a real API server; this machine has no Docker (so no kind/envtest images), so
`scripts/kube/build.sh` builds the servers from Debian's source package into a cache
folder, and this module runs them for tests and e2e scripts:

    with KubeApiServer(tmp_dir) as kube:
        client = kube.api_client()          # kubernetes.client.ApiClient
        subprocess.run(["kubectl", "--kubeconfig", str(kube.kubeconfig_path), ...])

Authentication is one bearer token in group `system:masters` (RBAC on, so the same
token works for kopf and kubectl); TLS uses a self-signed certificate made with
`openssl` that the kubeconfig trusts, so clients verify it instead of skipping TLS.
Every process runs in its own process group and is stopped by PID on teardown; start-up
failures carry the servers' log tails. Operator code must not import this module.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict

from recsys_workloads.runtime.ports import LOOPBACK, free_ports
from recsys_workloads.runtime.process import ManagedProcess, Server, ServerStartError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

KUBE_VERSION = "1.20.2"
BIN_ENV = "RECSYS_KUBE_BIN"
BUILD_HINT = "run `make kube` in the repository root (it runs scripts/kube/build.sh, ~7-11 min once)"
BINARY_NAMES = ("etcd", "kube-apiserver", "kube-controller-manager")
STAMP_NAME = ".stamp"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
# Controllers the tests rely on: owned objects are garbage-collected, deleted namespaces
# are emptied and removed, namespaces get their default ServiceAccount and its token.
CONTROLLERS = (
    "serviceaccount-token",
    "serviceaccount",
    "garbagecollector",
    "namespace",
    "deployment",
    "replicaset",
)
# klog error/fatal lines ("E1122 18:20:01.123456 ...") and etcd's (zap, JSON) error levels.
ERROR_LINE = re.compile(r'^[EF]\d{4} |"level":"(error|fatal|panic)"')


class KubeBinariesMissingError(RuntimeError):
    """The servers are not built; the message says how to build them."""


class KubeBinaries(BaseModel):
    """Resolved paths of the three server binaries."""

    model_config = ConfigDict(frozen=True)

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path


class KubePorts(BaseModel):
    """Loopback ports of one test cluster (all distinct, chosen free at start)."""

    model_config = ConfigDict(frozen=True)

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int

    @classmethod
    def pick(cls) -> KubePorts:
        etcd_client, etcd_peer, apiserver, controller_manager = free_ports(4)
        return cls(
            etcd_client=etcd_client,
            etcd_peer=etcd_peer,
            apiserver=apiserver,
            controller_manager=controller_manager,
        )

    def all(self) -> list[int]:
        return [self.etcd_client, self.etcd_peer, self.apiserver, self.controller_manager]


class StateLayout(BaseModel):
    """Where one cluster keeps its files (all under one state folder)."""

    model_config = ConfigDict(frozen=True)

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd-data"

    @property
    def sa_key(self) -> Path:
        return self.pki / "sa.key"

    @property
    def serving_cert(self) -> Path:
        return self.pki / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.pki / "apiserver.key"

    @property
    def tokens(self) -> Path:
        return self.pki / "tokens.csv"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"


def default_bin_dir(env: Mapping[str, str] = os.environ) -> Path:
    """`${XDG_CACHE_HOME:-$HOME/.cache}/recsys-operator/kube-1.20.2/bin`, as scripts/kube/build.sh."""
    cache = (
        Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path(env.get("HOME", "~")) / ".cache"
    )
    return cache.expanduser() / "recsys-operator" / f"kube-{KUBE_VERSION}" / "bin"


def find_binaries(env: Mapping[str, str] = os.environ) -> KubeBinaries:
    """The binaries from `RECSYS_KUBE_BIN` or the build cache; a clear error when missing."""
    if env.get(BIN_ENV):
        bin_dir, origin = Path(env[BIN_ENV]).expanduser(), f"${BIN_ENV}"
    else:
        bin_dir, origin = default_bin_dir(env), "the build cache"
        if not (bin_dir / STAMP_NAME).is_file():
            raise KubeBinariesMissingError(
                f"kube-apiserver {KUBE_VERSION} is not built ({bin_dir / STAMP_NAME} is missing): "
                f"{BUILD_HINT}, or set {BIN_ENV} to a folder holding {', '.join(BINARY_NAMES)}."
            )
    missing = [name for name in BINARY_NAMES if not os.access(bin_dir / name, os.X_OK)]
    if missing:
        raise KubeBinariesMissingError(
            f"{', '.join(missing)} not found (or not executable) in {bin_dir} ({origin}): {BUILD_HINT}."
        )
    return KubeBinaries(
        etcd=bin_dir / "etcd",
        kube_apiserver=bin_dir / "kube-apiserver",
        kube_controller_manager=bin_dir / "kube-controller-manager",
    )


def etcd_argv(binaries: KubeBinaries, state: StateLayout, ports: KubePorts) -> list[str]:
    client = f"http://{LOOPBACK}:{ports.etcd_client}"
    peer = f"http://{LOOPBACK}:{ports.etcd_peer}"
    return [
        str(binaries.etcd),
        "--name=default",
        f"--data-dir={state.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=warn",  # its info lines would bury the API server's in failure reports
    ]


def apiserver_argv(binaries: KubeBinaries, state: StateLayout, ports: KubePorts) -> list[str]:
    return [
        str(binaries.kube_apiserver),
        f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={ports.apiserver}",
        "--insecure-port=0",
        f"--cert-dir={state.pki}",
        f"--tls-cert-file={state.serving_cert}",
        f"--tls-private-key-file={state.serving_key}",
        f"--token-auth-file={state.tokens}",
        "--authorization-mode=RBAC",
        f"--service-account-key-file={state.sa_key}",
        f"--service-account-signing-key-file={state.sa_key}",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--allow-privileged=true",
        "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount",
        # The `kubernetes` Service cannot point at 127.0.0.1 (loopback endpoints are invalid).
        "--endpoint-reconciler-type=none",
        "--profiling=false",
    ]


def controller_manager_argv(binaries: KubeBinaries, state: StateLayout, ports: KubePorts) -> list[str]:
    return [
        str(binaries.kube_controller_manager),
        f"--kubeconfig={state.kubeconfig}",
        f"--authentication-kubeconfig={state.kubeconfig}",
        f"--authorization-kubeconfig={state.kubeconfig}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={ports.controller_manager}",
        "--port=0",  # 1.20 still serves an insecure port (10252) unless told not to
        f"--cert-dir={state.pki / 'controller-manager'}",
        f"--controllers={','.join(CONTROLLERS)}",
        f"--service-account-private-key-file={state.sa_key}",
        f"--root-ca-file={state.serving_cert}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def render_tokens_csv(token: str, user: str = "admin") -> str:
    """The static token file: one superuser (group system:masters bypasses RBAC checks)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", token):
        raise ValueError("token must be letters, digits, '.', '_' or '-' (it goes into a CSV file)")
    return f'{token},{user},{user},"system:masters"\n'


def render_kubeconfig(server: str, token: str, ca_pem: str, namespace: str = "default") -> str:
    """A kubeconfig with one context that kubectl, the Python client and kopf all load."""

    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "recsys-test",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": "recsys-test",
                "context": {"cluster": "recsys-test", "user": "admin", "namespace": namespace},
            }
        ],
        "current-context": "recsys-test",
    }
    return yaml.safe_dump(config, sort_keys=False)


def openssl_serving_cert_argv(cert: Path, key: Path) -> list[str]:
    """A self-signed certificate for 127.0.0.1/localhost that clients can pin as their CA."""
    return [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=recsys-test-apiserver",
        "-addext",
        f"subjectAltName=IP:{LOOPBACK},DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    ]


def _run_openssl(argv: list[str]) -> None:
    if shutil.which("openssl") is None:
        raise ServerStartError("openssl is missing (apt-get install openssl); it makes the test PKI")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ServerStartError(f"{' '.join(argv[:3])} failed: {done.stderr.strip()}")


class KubeApiServer(Server):
    """etcd + kube-apiserver (+ kube-controller-manager) for one test session."""

    def __init__(
        self,
        state_dir: Path,
        binaries: KubeBinaries | None = None,
        controller_manager: bool = True,
        token: str | None = None,
    ) -> None:
        self.binaries = binaries or find_binaries()
        self.state = StateLayout(root=state_dir)
        self.ports = KubePorts.pick()
        self.token = token or secrets.token_hex(16)
        self.with_controller_manager = controller_manager
        self.startup_s: float | None = None
        self.etcd = ManagedProcess(
            f"etcd:{self.ports.etcd_client}",
            etcd_argv(self.binaries, self.state, self.ports),
            self.state.log("etcd"),
            ports=[self.ports.etcd_client, self.ports.etcd_peer],
            error_line=ERROR_LINE,
        )
        self.apiserver = ManagedProcess(
            f"kube-apiserver:{self.ports.apiserver}",
            apiserver_argv(self.binaries, self.state, self.ports),
            self.state.log("kube-apiserver"),
            ports=[self.ports.apiserver],
            error_line=ERROR_LINE,
        )
        self.controller_manager = ManagedProcess(
            f"kube-controller-manager:{self.ports.controller_manager}",
            controller_manager_argv(self.binaries, self.state, self.ports),
            self.state.log("kube-controller-manager"),
            ports=[self.ports.controller_manager],
            error_line=ERROR_LINE,
        )

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.ports.apiserver}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.state.kubeconfig

    def processes(self) -> list[ManagedProcess]:
        started = [self.etcd, self.apiserver]
        return [*started, self.controller_manager] if self.with_controller_manager else started

    def start(self, timeout_s: float = 90.0) -> KubeApiServer:
        began = time.monotonic()
        self._write_pki()
        try:
            self.etcd.start()
            self.etcd.wait_ready(self._etcd_healthy, timeout_s)
            self.apiserver.start()
            self.apiserver.wait_ready(lambda: self._get_ok("/readyz"), timeout_s)
            if self.with_controller_manager:
                self.controller_manager.start()
                self.controller_manager.wait_ready(self._controller_manager_healthy, timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop in reverse start order, each by its process group."""
        for process in reversed(self.processes()):
            process.stop()

    def log_tails(self, lines: int = 15) -> str:
        """Every server's log end, for failure messages of tests that used the cluster."""
        return "\n".join(f"== {p.name}\n{p.log_tail(lines)}" for p in self.processes())

    def api_client(self) -> ApiClient:
        """A `kubernetes.client.ApiClient` for this cluster (imported lazily: tests only)."""
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig_path), client_configuration=configuration)
        return client.ApiClient(configuration)

    def kubectl_env(self, base: Mapping[str, str] = os.environ) -> dict[str, str]:
        """Environment for kubectl/kopf subprocesses pointing at this cluster only."""
        return {**base, "KUBECONFIG": str(self.kubeconfig_path)}

    def _write_pki(self) -> None:
        self.state.pki.mkdir(parents=True, exist_ok=True)
        self.state.etcd_data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.state.sa_key.exists():
            _run_openssl(["openssl", "genrsa", "-out", str(self.state.sa_key), "2048"])
        if not self.state.serving_cert.exists():
            _run_openssl(openssl_serving_cert_argv(self.state.serving_cert, self.state.serving_key))
        self.state.tokens.write_text(render_tokens_csv(self.token))
        self.state.kubeconfig.write_text(
            render_kubeconfig(self.url, self.token, self.state.serving_cert.read_text())
        )
        self.state.kubeconfig.chmod(0o600)

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.state.serving_cert))

    def _get_ok(self, path: str) -> bool:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=2, context=self._ssl_context()) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _etcd_healthy(self) -> bool:
        try:
            url = f"http://{LOOPBACK}:{self.ports.etcd_client}/health"
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(json.loads(response.read()).get("health") == "true")
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _controller_manager_healthy(self) -> bool:
        # Its serving certificate is self-signed on the fly; /healthz is public.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        url = f"https://{LOOPBACK}:{self.ports.controller_manager}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False
