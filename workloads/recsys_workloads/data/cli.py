"""`recsys data generate|ingest|validate|export|stats`: thin wiring around the data modules."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recsys_workloads.contracts.data_sources import DataSourcesSpec
from recsys_workloads.data.errors import DataValidationError
from recsys_workloads.data.generator import GeneratorConfig, generate
from recsys_workloads.data.ingest import Layout, ingest, validate
from recsys_workloads.data.personalize import export
from recsys_workloads.data.sources import LocalSources, local_sources
from recsys_workloads.data.stats import compute_stats, day_files, render
from recsys_workloads.object_store import is_s3

UNKNOWN_USERS_HELP = "rows of users without a profile: profile-less (kept, features unknown) or reject"
UNKNOWN_ITEMS_HELP = "rows of items not in the catalog: drop (counted) or reject"
LAYOUT_HELP = "auto, seed, rds or personalize"
EVENT_TYPE_HELP = (
    "personalize layout: SHOP=CANONICAL, e.g. --event-type detail_view=View (repeat it; replaces the "
    "default mapping, as spec.dataSources.eventTypes does)"
)
app = typer.Typer(
    name="data",
    help="Generate a synthetic shop, ingest real layouts, validate and summarise datasets.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Bad input ends in one red line and exit code 1, never a traceback."""
    try:
        yield
    except DataValidationError as exc:
        err_console.print(f"[red]invalid data:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command("generate")
def generate_command(
    output: Annotated[Path, typer.Argument(help="folder to create (must be absent or empty)")],
    users: Annotated[int, typer.Option(help="registered users")] = 20_000,
    items: Annotated[int, typer.Option(help="catalog size (synthetic catalog only)")] = 2_465,
    days: Annotated[int, typer.Option(help="days of traffic")] = 14,
    interactions: Annotated[int, typer.Option(help="View..Purchase rows, impressions excluded")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 0,
    impressions_per_view: Annotated[float, typer.Option(help="mean un-clicked impressions per view")] = 2.0,
    catalog: Annotated[Path | None, typer.Option(help="use the real RDS products.yaml")] = None,
    images: Annotated[bool, typer.Option(help="draw a 64x64 PNG per item")] = True,
    full_scale: Annotated[
        bool, typer.Option("--full-scale", help="the seed's 300k users / 13M interactions")
    ] = False,
) -> None:
    """Write a synthetic shop in the seed's layout, with its ground truth."""
    with _clear_errors():
        try:
            fields: dict[str, object] = {
                "items": items,
                "days": days,
                "seed": seed,
                "impressions_per_view": impressions_per_view,
            }
            fields |= {"catalog": catalog, "images": images}
            if full_scale:
                config = GeneratorConfig.full_scale(**fields)
            else:
                config = GeneratorConfig.model_validate(
                    {"users": users, "interactions": interactions, **fields}
                )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ValueError(f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}") from None
        started = time.perf_counter()
        with _progress() as progress:
            images_task = progress.add_task("images", total=0 if not config.images else None)
            days_task = progress.add_task("days", total=config.days)
            summary = generate(
                config,
                output,
                on_day=lambda _day: progress.advance(days_task),
                on_image=lambda: progress.advance(images_task),
            )
            progress.update(images_task, total=summary.images, completed=summary.images)
        console.print(
            f"wrote {output}: {summary.users:,} users, {summary.items:,} items, {summary.interactions:,} "
            f"interactions, {summary.impressions:,} impressions over {summary.days} days "
            f"in {time.perf_counter() - started:.1f} s"
        )


@contextmanager
def _local(source: str, layout: str, interactions: str | None, images: str | None) -> Iterator[LocalSources]:
    """The command's locations as local paths: folders as given, s3:// ones staged to a temporary
    folder (checked as a spec's dataSources are, data/staging.py) and removed afterwards."""
    locations = [source, interactions, images]
    if not any(v is not None and is_s3(v) for v in locations):
        yield LocalSources(
            Path(source), Path(interactions) if interactions else None, Path(images) if images else None
        )
        return
    if layout not in ("seed", "rds", "personalize"):
        raise ValueError(
            "an s3:// location needs --layout seed, rds or personalize (the layout says what to stage)"
        )
    absolute = [v if v is None or is_s3(v) else str(Path(v).resolve()) for v in locations]
    spec = DataSourcesSpec.model_validate(
        {"layout": layout, "uri": absolute[0], "interactionsUri": absolute[1], "imagesUri": absolute[2]}
    )
    with tempfile.TemporaryDirectory(prefix="recsys-staged-") as scratch:
        with err_console.status("staging from S3"):  # not around the ingest's own progress bar
            local = local_sources(spec, Path(scratch))
        yield local


@app.command("ingest")
def ingest_command(
    source: Annotated[
        str,
        typer.Argument(
            help="seed layout, RDS (products.yaml, users.json.gz) or Amazon Personalize (items.csv, users.csv, interactions*.csv) folder, or an s3:// prefix"
        ),
    ],
    output: Annotated[Path, typer.Argument(help="canonical dataset folder to create")],
    layout: Annotated[str, typer.Option(help=LAYOUT_HELP)] = "auto",
    interactions: Annotated[
        str | None,
        typer.Option(
            help="RDS or Personalize interactions CSV, a file or s3:// object (default: the ones in SOURCE)"
        ),
    ] = None,
    images: Annotated[
        str | None, typer.Option(help="item images folder or s3:// prefix (default: SOURCE/images)")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing dataset")] = False,
    unknown_users: Annotated[str, typer.Option(help=UNKNOWN_USERS_HELP)] = "profile-less",
    unknown_items: Annotated[str, typer.Option(help=UNKNOWN_ITEMS_HELP)] = "drop",
    event_type: Annotated[list[str] | None, typer.Option(help=EVENT_TYPE_HELP)] = None,
) -> None:
    """Validate SOURCE and write the canonical, day-partitioned dataset to OUTPUT (all or nothing)."""
    with _clear_errors(), _local(source, layout, interactions, images) as local:
        with _progress() as progress:
            task = progress.add_task("days", total=None)
            summary = ingest(
                local.source,
                output,
                layout=_layout(layout),
                interactions=local.interactions,
                images=local.images,
                overwrite=overwrite,
                **_policy(unknown_users, unknown_items, event_type),
                on_day=lambda _d: progress.advance(task),
                source_name=source if is_s3(source) else None,
            )
        console.print(
            f"ingested {summary.layout} layout into {summary.destination}: {summary.items:,} items, "
            f"{summary.users:,} users, {summary.interactions:,} rows over {len(summary.days)} days"
            f"{summary.unknown_note()}"
        )


@app.command("validate")
def validate_command(
    source: Annotated[
        str, typer.Argument(help="seed layout, RDS or Amazon Personalize folder, or an s3:// prefix")
    ],
    layout: Annotated[str, typer.Option(help=LAYOUT_HELP)] = "auto",
    interactions: Annotated[
        str | None, typer.Option(help="RDS or Personalize interactions CSV (file or s3://)")
    ] = None,
    images: Annotated[str | None, typer.Option(help="item images folder or s3:// prefix")] = None,
    unknown_users: Annotated[str, typer.Option(help=UNKNOWN_USERS_HELP)] = "profile-less",
    unknown_items: Annotated[str, typer.Option(help=UNKNOWN_ITEMS_HELP)] = "drop",
    event_type: Annotated[list[str] | None, typer.Option(help=EVENT_TYPE_HELP)] = None,
) -> None:
    """Run every ingestion check without writing anything (an s3:// SOURCE is staged to a temporary folder)."""
    with _clear_errors(), _local(source, layout, interactions, images) as local:
        summary = validate(
            local.source,
            layout=_layout(layout),
            interactions=local.interactions,
            images=local.images,
            **_policy(unknown_users, unknown_items, event_type),
        )
        console.print(
            f"valid {summary.layout} layout: {summary.items:,} items, {summary.users:,} users, "
            f"{summary.interactions:,} rows over {len(summary.days)} days{summary.unknown_note()}"
        )


@app.command("export")
def export_command(
    dataset: Annotated[Path, typer.Argument(help="canonical dataset folder (output of ingest)")],
    output: Annotated[Path, typer.Argument(help="folder to create (must be absent or empty)")],
    layout: Annotated[str, typer.Option(help="personalize (the only layout written)")] = "personalize",
    overwrite: Annotated[bool, typer.Option(help="replace an existing folder")] = False,
) -> None:
    """Write a canonical dataset as Amazon Personalize CSVs: interactions.csv, items.csv, users.csv."""
    with _clear_errors():
        if layout != "personalize":
            raise ValueError(f"--layout must be personalize (the only layout export writes), not {layout!r}")
        counts = export(dataset, output, overwrite=overwrite)
        console.print(
            f"exported {dataset} as personalize layout into {output}: {counts['items']:,} items, "
            f"{counts['users']:,} users, {counts['interactions']:,} interaction rows "
            "(impressions folded into IMPRESSION)"
        )


@app.command("stats")
def stats_command(
    path: Annotated[Path, typer.Argument(help="generated folder or canonical dataset")],
) -> None:
    """Print users, items, events by type and device, rows per day and category shares."""
    with _clear_errors():
        _, files = day_files(path)
        with _progress() as progress:
            task = progress.add_task("days", total=len(files))
            stats = compute_stats(path, on_day=lambda _d: progress.advance(task))
        console.print(render(stats, path))


def _policy(unknown_users: str, unknown_items: str, event_types: list[str] | None) -> dict[str, Any]:
    """The spec's dataSources.unknownUsers / unknownItems / eventTypes, validated by the spec's own model."""
    fields: dict[str, object] = {"unknownUsers": unknown_users, "unknownItems": unknown_items}
    try:
        spec = DataSourcesSpec.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(
            f"--unknown-users must be profile-less or reject, --unknown-items drop or reject ({exc.errors()[0]['msg']})"
        ) from None
    policy: dict[str, Any] = {"unknown_users": spec.unknown_users, "unknown_items": spec.unknown_items}
    if event_types:
        pairs = [value.partition("=") for value in event_types]
        bad = [
            value
            for value, (key, eq, target) in zip(event_types, pairs, strict=True)
            if not (key and eq and target)
        ]
        if bad:
            raise ValueError(f"--event-type takes SHOP=CANONICAL, got {bad[0]!r}")
        try:
            mapping = DataSourcesSpec.model_validate(
                {"layout": "personalize", "eventTypes": {key: target for key, _, target in pairs}}
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ValueError(f"--event-type {err['loc'][-1]}: {err['msg']}") from None
        problems = [p for p in mapping.problems() if "eventTypes" in p]
        if problems:
            raise ValueError("--event-type: " + "; ".join(problems))
        policy["event_types"] = mapping.event_types
    return policy


def _layout(value: str) -> Layout:
    if value not in ("auto", "seed", "rds", "personalize"):
        raise ValueError(f"--layout must be auto, seed, rds or personalize, not {value!r}")
    return value  # type: ignore[return-value]
