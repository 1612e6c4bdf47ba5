"""The `recsys` command: one entry point, one sub-command group per concern."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="recsys",
    help="Run the recsys-operator recommender on one machine: data, training, serving.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    app()
