"""`recsys api serve`: the recommendation API (and, with a catalog, the demo page) under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recsys_workloads.contracts.serving import ENSEMBLE, ENSEMBLE_OF

app = typer.Typer(
    name="api",
    help="The recommendation API in front of Triton (popularity fallback; demo page with --catalog).",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def api() -> None:
    """The recommendation API in front of Triton (popularity fallback; demo page with --catalog)."""


@app.command("serve")
def serve(
    triton_url: Annotated[str, typer.Option(help="Triton gRPC address host:port")] = "127.0.0.1:8001",
    model: Annotated[
        str, typer.Option(help=f"ensemble to call: {' or '.join(ENSEMBLE_OF.values())}")
    ] = ENSEMBLE,
    redis_url: Annotated[
        str, typer.Option(envvar="RECSYS_REDIS_URL", help="Valkey for the fallback and visitor state")
    ] = "",
    catalog: Annotated[
        Path | None,
        typer.Option(help="canonical dataset folder or items.parquet: item details and the demo page at /"),
    ] = None,
    events_url: Annotated[
        str, typer.Option(help="event service base URL the demo page's clicks are forwarded to")
    ] = "",
    report: Annotated[
        Path | None,
        typer.Option(help="model version folder (or its evaluation/report.json) the demo page charts"),
    ] = None,
    timeout_s: Annotated[float, typer.Option(min=0.001, help="deadline of one Triton call")] = 0.5,
    config: Annotated[
        Path | None,
        typer.Option(help="ApiConfig as JSON (snake_case fields); replaces the options above"),
    ] = None,
    host: str = "127.0.0.1",
    port: int = 8080,
) -> None:
    """Serve POST /v1/recommendations, /v1/items, /v1/demo/*, / (demo page), /healthz, /readyz."""
    import uvicorn
    from pydantic import ValidationError

    from recsys_workloads.serving.api.app import ApiConfig, create_app

    try:
        if config is not None:
            api_config = ApiConfig.model_validate_json(config.read_text())
        else:
            api_config = ApiConfig.model_validate(
                {
                    "triton_url": triton_url,
                    "model": model,
                    "redis_url": redis_url,
                    "catalog": catalog,
                    "events_url": events_url,
                    "report": report,
                    "timeout_s": timeout_s,
                }
            )
    except (ValidationError, ValueError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    uvicorn.run(create_app(api_config), host=host, port=port, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
