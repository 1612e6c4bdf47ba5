"""The `recsys` command: one entry point, one sub-command group per concern."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from recsys_workloads.data.cli import app as data_app
from recsys_workloads.events.cli import app as events_app
from recsys_workloads.runtime.process import ServerStartError
from recsys_workloads.runtime.toolchain import ToolchainError, repo_root

app = typer.Typer(
    name="recsys",
    help="Run the recsys-operator recommender on one machine: data, training, serving.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(events_app, name="events")


@app.command("demo")
def demo_command(
    workdir: Annotated[
        Path | None,
        typer.Option(help="where the shop, online state and model repository go [default: runs/demo]"),
    ] = None,
    users: Annotated[int, typer.Option(min=100)] = 3_000,
    interactions: Annotated[int, typer.Option(min=1_000)] = 100_000,
    days: Annotated[int, typer.Option(min=2, max=99)] = 8,
    seed: int = 0,
    train: Annotated[
        bool, typer.Option(help="train and serve the 14-step ensemble (else: popularity path)")
    ] = True,
) -> None:
    """Local mode end to end on real redis-server and tritonserver (see recsys_workloads.demo)."""
    from recsys_workloads.demo import DemoConfig, run_demo  # pyarrow/tritonclient only when asked

    console = Console()
    try:
        workdir = workdir or repo_root() / "runs" / "demo"
        config = DemoConfig(
            workdir=workdir, users=users, interactions=interactions, days=days, seed=seed, train=train
        )
        run_demo(config, console)
    except (ToolchainError, ServerStartError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def main() -> None:
    app()
