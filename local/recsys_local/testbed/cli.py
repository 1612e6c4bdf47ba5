"""`recsys cluster up|status|down`: the single-node test cluster from a terminal.

The same targets `make cluster`, `make cluster-status` and `make cluster-down` run (they
install what is missing, build Kubernetes once, then call scripts/cluster/), so both doors
share one implementation.
"""

from __future__ import annotations

import subprocess

import typer

from recsys_workloads.runtime.toolchain import repo_root

app = typer.Typer(
    name="cluster",
    help="A real single-node Kubernetes 1.20 on this machine (Debian's packages only): the test bed.",
    no_args_is_help=True,
    add_completion=False,
)


def _make(target: str) -> None:
    root = repo_root()
    if not (root / "Makefile").is_file() or not (root / "scripts" / "cluster").is_dir():
        typer.echo(
            f"error: {root} is not a recsys-operator checkout (no Makefile, scripts/cluster)", err=True
        )
        raise typer.Exit(2)
    code = subprocess.run(["make", "--no-print-directory", "-C", str(root), target], check=False).returncode
    if code:
        raise typer.Exit(code)


@app.command("up")
def up() -> None:
    """Install what is missing, build Kubernetes once, start the cluster (idempotent)."""
    _make("cluster")


@app.command("status")
def status() -> None:
    """Each component's process, the node and the pods; exit 1 when something is down."""
    _make("cluster-status")


@app.command("down")
def down() -> None:
    """Stop everything the cluster started; remove its state, bridge and iptables rules (caches stay)."""
    _make("cluster-down")


@app.command("images")
def images() -> None:
    """Build the operator, workloads and serving images into the cluster's Docker engine."""
    _make("images")
