"""The test bed launcher's pure parts: where binaries come from, argv, kubeconfig, tokens."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from recsys_local.testbed.kube_apiserver import (
    BIN_ENV,
    CONTROLLERS,
    KubeBinaries,
    KubeBinariesMissingError,
    KubePorts,
    StateLayout,
    apiserver_argv,
    controller_manager_argv,
    default_bin_dir,
    etcd_argv,
    find_binaries,
    openssl_serving_cert_argv,
    render_kubeconfig,
    render_tokens_csv,
)

REPO = Path(__file__).resolve().parents[3]
BUILD_SH = REPO / "scripts" / "kube" / "build.sh"
BINARIES = KubeBinaries(
    etcd=Path("/b/etcd"),
    kube_apiserver=Path("/b/kube-apiserver"),
    kube_controller_manager=Path("/b/kube-controller-manager"),
)
PORTS = KubePorts(etcd_client=20001, etcd_peer=20002, apiserver=20003, controller_manager=20004)
STATE = StateLayout(root=Path("/state"))


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in argv[1:] if "=" in arg)


def _fake_bin_dir(
    root: Path, names: tuple[str, ...] = ("etcd", "kube-apiserver", "kube-controller-manager")
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / name).write_text("#!/bin/sh\n")
        (root / name).chmod(0o755)
    return root


def test_the_cache_dir_follows_xdg_cache_home_then_home() -> None:
    assert default_bin_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/recsys-operator/kube-1.20.2/bin")
    assert default_bin_dir({"HOME": "/h"}) == Path("/h/.cache/recsys-operator/kube-1.20.2/bin")


def test_a_missing_build_names_make_kube(tmp_path: Path) -> None:
    with pytest.raises(KubeBinariesMissingError, match=r"make kube"):
        find_binaries({"XDG_CACHE_HOME": str(tmp_path)})


def test_a_build_without_its_stamp_counts_as_missing(tmp_path: Path) -> None:
    """An interrupted build leaves binaries but no stamp; it must not be half-used."""
    _fake_bin_dir(default_bin_dir({"XDG_CACHE_HOME": str(tmp_path)}))
    with pytest.raises(KubeBinariesMissingError, match=r"\.stamp"):
        find_binaries({"XDG_CACHE_HOME": str(tmp_path)})


def test_a_stamped_cache_dir_resolves_all_three_binaries(tmp_path: Path) -> None:
    bin_dir = _fake_bin_dir(default_bin_dir({"XDG_CACHE_HOME": str(tmp_path)}))
    (bin_dir / ".stamp").write_text("built\n")
    found = find_binaries({"XDG_CACHE_HOME": str(tmp_path)})
    assert found.kube_apiserver == bin_dir / "kube-apiserver"
    assert found.etcd == bin_dir / "etcd"


def test_the_env_override_reports_which_binary_is_missing(tmp_path: Path) -> None:
    bin_dir = _fake_bin_dir(tmp_path / "bin", names=("etcd",))
    with pytest.raises(KubeBinariesMissingError, match=r"kube-apiserver, kube-controller-manager not found"):
        find_binaries({BIN_ENV: str(bin_dir)})
    _fake_bin_dir(bin_dir)
    assert (
        find_binaries({BIN_ENV: str(bin_dir)}).kube_controller_manager == bin_dir / "kube-controller-manager"
    )


def test_picked_ports_are_distinct() -> None:
    ports = KubePorts.pick()
    assert len(set(ports.all())) == 4


def test_etcd_listens_on_loopback_only_on_the_chosen_ports() -> None:
    flags = _flags(etcd_argv(BINARIES, STATE, PORTS))
    assert flags["listen-client-urls"] == "http://127.0.0.1:20001"
    assert flags["listen-peer-urls"] == "http://127.0.0.1:20002"
    assert flags["initial-cluster"] == "default=http://127.0.0.1:20002"
    assert flags["data-dir"] == "/state/etcd-data"


def test_the_apiserver_serves_tls_on_loopback_with_token_auth_and_rbac() -> None:
    argv = apiserver_argv(BINARIES, STATE, PORTS)
    flags = _flags(argv)
    assert argv[0] == "/b/kube-apiserver"
    assert flags["bind-address"] == "127.0.0.1"
    assert flags["secure-port"] == "20003"
    assert flags["insecure-port"] == "0"
    assert flags["etcd-servers"] == "http://127.0.0.1:20001"
    assert flags["authorization-mode"] == "RBAC"
    assert flags["token-auth-file"] == "/state/pki/tokens.csv"
    assert flags["tls-cert-file"] == "/state/pki/apiserver.crt"
    assert flags["service-account-signing-key-file"] == "/state/pki/sa.key"
    assert flags["endpoint-reconciler-type"] == "none"  # loopback endpoints are invalid for a Service


def test_the_controller_manager_runs_gc_and_token_controllers_without_fixed_ports() -> None:
    flags = _flags(controller_manager_argv(BINARIES, STATE, PORTS))
    controllers = flags["controllers"].split(",")
    assert {"serviceaccount-token", "garbagecollector", "namespace"} <= set(controllers)
    assert controllers == list(CONTROLLERS)
    assert flags["port"] == "0"  # no insecure 10252 shared by every session on the machine
    assert flags["secure-port"] == "20004"
    assert flags["leader-elect"] == "false"
    assert flags["kubeconfig"] == "/state/kubeconfig"


def test_the_kubeconfig_loads_in_the_python_client_with_token_and_pinned_ca(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    text = render_kubeconfig("https://127.0.0.1:20003", "t0k3n", pem, namespace="ns1")
    doc = yaml.safe_load(text)
    cluster = doc["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == pem
    assert "insecure-skip-tls-verify" not in cluster
    assert doc["contexts"][0]["context"]["namespace"] == "ns1"
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.host == "https://127.0.0.1:20003"
    assert configuration.api_key["authorization"] == "Bearer t0k3n"
    assert configuration.verify_ssl


def test_the_token_file_grants_system_masters() -> None:
    assert render_tokens_csv("abc123") == 'abc123,admin,admin,"system:masters"\n'


@pytest.mark.parametrize("token", ["a,b", 'a"b', "", "a b"])
def test_tokens_that_would_break_the_csv_are_refused(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        render_tokens_csv(token)


def test_the_serving_certificate_covers_the_loopback_ip() -> None:
    argv = openssl_serving_cert_argv(Path("/c.crt"), Path("/c.key"))
    assert "subjectAltName=IP:127.0.0.1,DNS:localhost" in argv
    assert argv[argv.index("-out") + 1] == "/c.crt"


BUILT = (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl", "pause"
)  # fmt: skip


def _stamp() -> str:
    return subprocess.run(
        ["bash", str(BUILD_SH), "--stamp"], capture_output=True, text=True, check=True
    ).stdout


def test_build_script_parses_and_skips_when_the_stamp_exists(tmp_path: Path) -> None:
    subprocess.run(["bash", "-n", str(BUILD_SH)], check=True)
    _fake_bin_dir(tmp_path / "bin", BUILT)
    (tmp_path / "bin" / ".stamp").write_text(_stamp())
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["bash", str(BUILD_SH), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "already built" in done.stdout
    assert not (tmp_path / "src").exists()  # nothing fetched


def test_a_stamp_of_an_older_build_with_fewer_commands_is_rebuilt(tmp_path: Path) -> None:
    """A cache from before the cluster existed holds only the API server layer's binaries."""
    _fake_bin_dir(tmp_path / "bin")
    (tmp_path / "bin" / ".stamp").write_text(
        "kubernetes 1.20.5 (reflect2 1.0.2, json-iterator 1.1.12), etcd\n"
    )
    tools = tmp_path / "tools"  # everything but apt-get: the rebuild stops at its first check
    tools.mkdir()
    for name in ("dirname", "cat", "uname", "mkdir", "flock", "date"):
        (tools / name).symlink_to(
            subprocess.run(["which", name], capture_output=True, text=True).stdout.strip()
        )
    done = subprocess.run(
        ["/bin/bash", str(BUILD_SH), str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(tools)},
        timeout=30,
        check=False,
    )
    assert "already built" not in done.stdout
    assert done.returncode != 0 and "'apt-get' is missing" in done.stderr
