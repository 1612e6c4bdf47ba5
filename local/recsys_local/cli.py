"""The `recsys` command: one entry point, one sub-command group per concern.

It lives here, in the package that may import both planes: the data plane's groups (data,
events, api) are always registered, local mode and the test cluster only when asked for.
"""

from __future__ import annotations

import sys

import typer

from recsys_workloads.data.cli import app as data_app
from recsys_workloads.events.cli import app as events_app
from recsys_workloads.serving.api.cli import app as api_app

app = typer.Typer(
    name="recsys",
    help="Run the recsys-operator recommender on one machine: data, training, serving.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(events_app, name="events")
app.add_typer(api_app, name="api")


# Commands that import the control plane: registered only when asked for (or for help), so
# `recsys api serve` and `recsys events serve` in the workloads image import the data plane only.
CONTROL_PLANE_COMMANDS = frozenset({"local", "demo", "recommend", "event", "cluster"})


def _add_local_mode() -> None:
    """Local mode is the operator's reconcile with local adapters (decision 0008)."""
    from recsys_local.mode import cli as local

    app.add_typer(local.app, name="local")
    app.command("demo")(local.demo)
    app.command("recommend")(local.recommend)
    app.command("event")(local.event)


def _add_test_cluster() -> None:
    """The single-node test cluster's scripts are the operator's test bed."""
    from recsys_local.testbed import cli as cluster

    app.add_typer(cluster.app, name="cluster")


_added: list[bool] = []


def add_control_plane_commands(argv: list[str]) -> None:
    """Unless the command is one of the data plane's own (data, events, api); once."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if (first is None or first in CONTROL_PLANE_COMMANDS) and not _added:
        _add_local_mode()
        _add_test_cluster()
        _added.append(True)


def main() -> None:
    add_control_plane_commands(sys.argv[1:])
    app()


if __name__ == "__main__":
    main()
