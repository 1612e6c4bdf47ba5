"""The `recsys` command: one entry point, one sub-command group per concern."""

from __future__ import annotations

import typer

from recsys_workloads.data.cli import app as data_app
from recsys_workloads.events.cli import app as events_app
from recsys_workloads.serving.cli import app as api_app

app = typer.Typer(
    name="recsys",
    help="Run the recsys-operator recommender on one machine: data, training, serving.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(events_app, name="events")
app.add_typer(api_app, name="api")


def _add_local_mode() -> None:
    """Local mode is the operator's reconcile with local adapters, so it lives in recsys_operator."""
    from recsys_operator.local import cli as local

    app.add_typer(local.app, name="local")
    app.command("demo")(local.demo)
    app.command("recommend")(local.recommend)
    app.command("event")(local.event)


_add_local_mode()


def main() -> None:
    app()
