"""`recsys events serve|post`: run the event service, or send one event from a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="events",
    help="The event service: interactions in, online state and the offline event log updated.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command("serve")
def serve(
    catalog: Annotated[
        Path | None, typer.Option(help="canonical dataset folder or its items.parquet")
    ] = None,
    log_dir: Annotated[Path | None, typer.Option(help="offline event log (parquet) and its WAL")] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="EventServiceConfig as JSON (camelCase spec); replaces the flags above"),
    ] = None,
    redis_url: Annotated[str, typer.Option(envvar="RECSYS_REDIS_URL")] = "redis://127.0.0.1:6379/0",
    host: str = "127.0.0.1",
    port: int = 8081,
    max_batch: Annotated[int, typer.Option(min=1)] = 1_000,
) -> None:
    """Serve POST /events, /healthz, /readyz, /metrics with uvicorn (one process)."""
    import uvicorn

    from recsys_workloads.contracts.events import EventLimits, EventServiceConfig
    from recsys_workloads.events.app import create_app

    if config is not None:
        service_config = EventServiceConfig.model_validate_json(config.read_text())
    elif catalog is None or log_dir is None:
        raise typer.BadParameter("--catalog and --log-dir are required without --config")
    else:
        service_config = EventServiceConfig(
            redis_url=redis_url, catalog=catalog, log_dir=log_dir, limits=EventLimits(max_batch=max_batch)
        )
    uvicorn.run(create_app(service_config), host=host, port=port, log_level="warning")


@app.command("post")
def post(
    item: Annotated[str, typer.Option(help="item id")],
    event_type: Annotated[
        str, typer.Option("--type", help="View, AddToCart, ViewCart, StartCheckout, Purchase, Impression")
    ],
    user: Annotated[str | None, typer.Option(help="signed-in user id")] = None,
    anonymous: Annotated[str | None, typer.Option(help="anonymous visitor id (anon-...)")] = None,
    device: Annotated[str | None, typer.Option(help="web, ios or android")] = None,
    event_id: Annotated[str | None, typer.Option(help="idempotency key [default: a new UUID]")] = None,
    timestamp: Annotated[int | None, typer.Option(help="Unix seconds [default: now, on the server]")] = None,
    url: Annotated[str, typer.Option(help="event service base URL")] = "http://127.0.0.1:8081",
) -> None:
    """Send one event and print the answer (exit 1 on a 4xx/5xx); with $RECSYS_AUTH_TOKEN (or
    $RECSYS_AUTH_TOKEN_FILE) set, as a bearer token."""
    from urllib.parse import urlsplit

    from recsys_workloads.events.client import EventClient, new_event_id
    from recsys_workloads.runtime.http_guard import load_token

    payload: dict[str, object] = {
        "event_id": event_id or new_event_id(),
        "item_id": item,
        "event_type": event_type,
    }
    for key, value in (
        ("user_id", user),
        ("anonymous_id", anonymous),
        ("device", device),
        ("timestamp", timestamp),
    ):
        if value is not None:
            payload[key] = value
    parts = urlsplit(url)
    client = EventClient(parts.hostname or "127.0.0.1", parts.port or 80, token=load_token())
    try:
        answer = client.post_events(payload)
    except OSError as exc:
        console.print(f"[red]error:[/] cannot reach {url}: {exc}")
        raise typer.Exit(2) from exc
    finally:
        client.close()
    console.print_json(data={"status": answer.status, **answer.body})
    if answer.status >= 400:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
