"""Process supervision, ports and toolchain discovery behind local mode's servers."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from recsys_workloads.runtime import toolchain as tc
from recsys_workloads.runtime.ports import free_ports, port_is_open
from recsys_workloads.runtime.process import ManagedProcess, ServerStartError, pid_alive
from recsys_workloads.runtime.triton_server import TritonPorts, serving_environment, triton_argv


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_ports_rejects_a_nonpositive_count() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        free_ports(0)


def test_port_is_open_sees_a_listener_only_while_it_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_is_open(port)
    assert not port_is_open(port)


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"import subprocess,time; p=subprocess.Popen(['sleep','60']); open({str(pidfile)!r},'w').write(str(p.pid)); time.sleep(60)"
    proc = ManagedProcess("parent", [sys.executable, "-c", script], tmp_path / "log")
    proc.start()
    proc.wait_ready(pidfile.exists, timeout_s=10)
    time.sleep(0.1)
    child = int(pidfile.read_text())
    proc.stop(grace_s=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and pid_alive(child):
        time.sleep(0.05)
    assert not proc.running()
    assert not pid_alive(child)


def test_a_server_dying_before_ready_reports_its_log(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "dies",
        [sys.executable, "-c", "print('bind failed: port taken'); raise SystemExit(3)"],
        tmp_path / "log",
    )
    proc.start()
    with pytest.raises(ServerStartError, match=r"exited with code 3(.|\n)*bind failed"):
        proc.wait_ready(lambda: False, timeout_s=10)


def test_a_server_never_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    proc = ManagedProcess("slow", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "log")
    proc.start()
    with pytest.raises(ServerStartError, match="not ready after"):
        proc.wait_ready(lambda: False, timeout_s=0.5)
    assert not proc.running()


def test_a_missing_binary_is_a_clear_start_error(tmp_path: Path) -> None:
    proc = ManagedProcess("ghost", [str(tmp_path / "no-such-binary")], tmp_path / "log")
    with pytest.raises(ServerStartError, match="cannot execute"):
        proc.start()


def test_missing_triton_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(tc.ToolchainError, match="make tools"):
        tc.find_triton_home(tmp_path, env={})


def test_triton_home_without_the_python_stub_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tritonserver").write_text("")
    with pytest.raises(tc.ToolchainError, match="stub is missing"):
        tc.find_triton_home(tmp_path, env={tc.TRITON_HOME_ENV: str(tmp_path)})


def test_missing_redis_server_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(tc.ToolchainError, match="redis-server"):
        tc.find_redis_server(env={tc.REDIS_SERVER_ENV: str(tmp_path / "nope")})


def _toolchain(tmp_path: Path) -> tc.Toolchain:
    return tc.Toolchain(
        tritonserver=tmp_path / "bin" / "tritonserver",
        triton_backends=tmp_path / "backends",
        serving_venv=Path(sys.prefix),
        redis_server=tmp_path / "redis-server",
    )


def test_triton_listens_on_loopback_only(tmp_path: Path) -> None:
    argv = triton_argv(_toolchain(tmp_path), tmp_path / "models", TritonPorts(http=1, grpc=2, metrics=3))
    assert "--http-address=127.0.0.1" in argv
    assert "--grpc-address=127.0.0.1" in argv
    assert {"--http-port=1", "--grpc-port=2", "--metrics-port=3"} <= set(argv)


def test_explicit_model_control_loads_named_models(tmp_path: Path) -> None:
    argv = triton_argv(
        _toolchain(tmp_path), tmp_path, TritonPorts(http=1, grpc=2, metrics=3), "explicit", ["ensemble"]
    )
    assert "--model-control-mode=explicit" in argv
    assert "--load-model=ensemble" in argv


def test_serving_environment_puts_the_serving_venv_first_and_drops_pythonpath(tmp_path: Path) -> None:
    env = serving_environment(_toolchain(tmp_path), {"PATH": "/usr/bin", "PYTHONPATH": "/elsewhere"})
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.prefix) / "bin")
    assert "PYTHONPATH" not in env
    assert env["VIRTUAL_ENV"] == sys.prefix
