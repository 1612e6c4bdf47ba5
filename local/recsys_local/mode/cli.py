"""`recsys local ...`, `recsys recommend`, `recsys event`: local mode from a terminal."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from recsys_local.mode import http
from recsys_local.mode.processes import healthy
from recsys_local.mode.state import LocalState, LocalStateError, load
from recsys_local.mode.system import LocalModeError, LocalSystem, describe_error
from recsys_workloads.contracts.serving import ENSEMBLE
from recsys_workloads.runtime.process import ServerStartError
from recsys_workloads.runtime.toolchain import ToolchainError, repo_root

app = typer.Typer(
    name="local",
    help="One RecommenderSystem on this machine: real redis-server, tritonserver, KFP local runner.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
EXPECTED = (LocalModeError, LocalStateError, ServerStartError, ToolchainError, http.UnreachableError)


def default_workdir() -> Path:
    return repo_root() / "runs" / "local"


Workdir = Annotated[Path | None, typer.Option(help="state, data, models and logs [default: runs/local]")]


def _system(workdir: Path | None) -> LocalSystem:
    return LocalSystem(workdir or default_workdir(), console)


def _fail(exc: BaseException) -> typer.Exit:
    console.print(f"[red]error:[/] {describe_error(exc)}")
    return typer.Exit(2)


@app.command("up")
def up(
    file: Annotated[Path, typer.Option("--file", "-f", help="a RecommenderSystem YAML (the cluster's file)")],
    workdir: Workdir = None,
) -> None:
    """Start Valkey (redis-server), train (initial pipeline), serve (Triton), events and API."""
    system = _system(workdir)
    try:
        state = system.up(file)
    except EXPECTED as exc:
        raise _fail(exc) from exc
    print_status(state)
    api = state.processes.get("api")
    if api is not None:
        console.print(f"\n[bold]demo page:[/] {api.url}/   (stop everything: recsys local down)")


@app.command("status")
def status(workdir: Workdir = None) -> None:
    """What runs where, the RecommenderSystem's conditions and its TrainingRuns."""
    try:
        state = _system(workdir).status()
    except EXPECTED as exc:
        raise _fail(exc) from exc
    print_status(state)


@app.command("train")
def train(
    incremental: Annotated[
        bool, typer.Option("--incremental/--initial", help="fine-tune on new events")
    ] = True,
    workdir: Workdir = None,
) -> None:
    """Run an incremental TrainingRun and roll its version into the running Triton."""
    try:
        state = _system(workdir).train(incremental=incremental)
    except EXPECTED as exc:
        raise _fail(exc) from exc
    print_status(state)


@app.command("down")
def down(workdir: Workdir = None) -> None:
    """Stop every server; data, models and the event log stay for the next `up`."""
    try:
        stopped = _system(workdir).down()
    except EXPECTED as exc:
        raise _fail(exc) from exc
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


def demo(
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="RecommenderSystem YAML [default: examples/homepage.yaml]"),
    ] = None,
    workdir: Workdir = None,
    ci: Annotated[
        bool, typer.Option("--ci", help="stop everything at the end; exit 2 on any misbehaviour")
    ] = False,
) -> None:
    """Local mode end to end: up, homepages for three kinds of visitor, a click that changes one."""
    from recsys_local.mode.demo import run_demo

    try:
        run_demo(
            file or repo_root() / "examples" / "homepage.yaml", workdir or default_workdir(), console, ci=ci
        )
    except EXPECTED as exc:
        raise _fail(exc) from exc


def _experiment_table(experiment: dict[str, Any]) -> Table:
    """status.experiment as `kubectl get recsys -o wide` would summarise it, one row per arm."""
    title = f"experiment {experiment['name']}: {experiment.get('phase')} ({experiment.get('reason', '')})"
    if experiment.get("winner"):
        title += f", winner {experiment['winner']}"
    table = Table(title=title, title_justify="left")
    for column in (
        "arm",
        "version",
        "weight",
        "homepages",
        experiment.get("goal", "goal") + " rate",
        "95 % interval",
        "P(best)",
        "p99 ms",
        "errors",
    ):
        table.add_column(column)
    for arm in experiment.get("arms") or []:
        low, high = arm.get("goalRateLow"), arm.get("goalRateHigh")
        table.add_row(
            arm["name"] + (" (shadow)" if arm.get("shadow") else ""),
            "popular" if arm.get("version") is None else str(arm["version"]),
            str(arm.get("weight", 0)),
            str(arm.get("homepages", 0)),
            _fmt(arm.get("goalRate")),
            "" if low is None or high is None else f"[{low:.4f}, {high:.4f}]",
            _fmt(arm.get("probabilityBest")),
            _fmt(arm.get("latencyP99Ms")),
            _fmt(arm.get("errorRate")),
        )
    return table


def print_status(state: LocalState) -> None:
    procs = Table(title=f"RecommenderSystem {state.name} (local)", title_justify="left")
    for column in ("component", "pid", "address", "healthy", "log"):
        procs.add_column(column)
    for name, record in state.processes.items():
        ok = healthy(record)
        procs.add_row(name, str(record.pid), record.url, "[green]yes[/]" if ok else "[red]no[/]", record.log)
    console.print(procs)
    model = state.status.get("model") or {}
    console.print(
        f"model version {model.get('currentVersion')} (previous {model.get('previousVersion')}, "
        f"{model.get('transition', 'UpToDate')})"
    )
    conditions = Table(title="conditions", title_justify="left")
    for column in ("type", "status", "reason", "message"):
        conditions.add_column(column)
    for c in state.status.get("conditions", []):
        colour = "green" if (c["status"] == "True") != (c["type"] in ("Stalled", "Reconciling")) else "yellow"
        conditions.add_row(
            c["type"], f"[{colour}]{c['status']}[/]", c.get("reason", ""), c.get("message", "")
        )
    console.print(conditions)
    experiment = state.status.get("experiment")
    if experiment:
        console.print(_experiment_table(experiment))
    runs = Table(title="trainingruns", title_justify="left")
    for column in ("name", "type", "state", "version", "recall@k", "auc", "completed"):
        runs.add_column(column)
    for run in sorted(
        (o for o in state.objects.values() if o.get("kind") == "TrainingRun"),
        key=lambda o: o["metadata"]["name"],
    ):
        st = run.get("status") or {}
        metrics = st.get("metrics") or {}
        runs.add_row(
            run["metadata"]["name"],
            str(run["spec"].get("type")),
            str(st.get("state", "")),
            str((st.get("modelVersions") or {}).get(ENSEMBLE, "")),
            _fmt(metrics.get("recallAtK")),
            _fmt(metrics.get("auc")),
            str(st.get("completionTime", "")),
        )
    console.print(runs)


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ""


# --- terminal clients of the running system -------------------------------------------------


def _url_of(component: str, workdir: Path | None, override: str | None) -> str:
    if override:
        return override.rstrip("/")
    state = load(workdir or default_workdir())
    if state is None or component not in state.processes:
        raise LocalModeError(
            f"no running {component} in {workdir or default_workdir()}: run `recsys local up` first"
        )
    return state.processes[component].url


def recommend(
    user: Annotated[str | None, typer.Option(help="registered user id")] = None,
    session: Annotated[str | None, typer.Option(help="anonymous session id")] = None,
    device: Annotated[str | None, typer.Option(help="web, ios, android (mobile -> ios)")] = None,
    num_items: Annotated[int, typer.Option("--num-items", "-n", min=1, max=100)] = 10,
    api_url: Annotated[str | None, typer.Option(help="the API [default: the local system's]")] = None,
    workdir: Workdir = None,
) -> None:
    """Ask the recommendation API for a homepage and print it."""
    payload: dict[str, Any] = {"num_items": num_items}
    if user:
        payload["user_id"] = user
    if session:
        payload["session_id"] = session
    if device:
        payload["device"] = "ios" if device == "mobile" else device
    try:
        url = _url_of("api", workdir, api_url)
        started = time.perf_counter()
        code, body = http.post(url + "/v1/recommendations", payload)
    except EXPECTED as exc:
        raise _fail(exc) from exc
    latency = (time.perf_counter() - started) * 1000
    if code != 200:
        console.print(f"[red]{code}[/]: {json.dumps(body.get('detail', body))}")
        raise typer.Exit(1)
    flags = [f for f in ("cold_start", "filter_skipped", "fallback") if body.get(f)]
    table = Table(
        title=f"{user or session or 'visitor'} on {device or 'unknown device'}: {latency:.0f} ms, "
        f"{body.get('source')}{' (' + ', '.join(flags) + ')' if flags else ''}",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("item")
    table.add_column("name")
    table.add_column("category")
    table.add_column("score", justify="right")
    info = _item_info(url, body["item_ids"])
    for rank, (item, score) in enumerate(zip(body["item_ids"], body["scores"], strict=True), 1):
        row = info.get(item, {})
        table.add_row(
            str(rank), item, str(row.get("name") or ""), str(row.get("category_l1", "")), f"{score:.3g}"
        )
    console.print(table)


def _item_info(api_url: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Names and categories from the API's catalog (empty when it serves none)."""
    if not ids:
        return {}
    try:
        code, body = http.get(f"{api_url}/v1/items", [("ids", i) for i in ids])
    except http.UnreachableError:
        return {}
    return {i["item_id"]: i for i in body.get("items", [])} if code == 200 else {}


def event(
    item: Annotated[str, typer.Option(help="item id")],
    event_type: Annotated[
        str, typer.Option("--type", help="View, AddToCart, ViewCart, StartCheckout, Purchase")
    ] = "View",
    user: Annotated[str | None, typer.Option(help="registered user id")] = None,
    anonymous: Annotated[str | None, typer.Option(help="anonymous visitor id (anon-...)")] = None,
    device: Annotated[str | None, typer.Option(help="web, ios or android")] = None,
    events_url: Annotated[
        str | None, typer.Option(help="the event service [default: the local system's]")
    ] = None,
    workdir: Workdir = None,
) -> None:
    """Send one interaction to the local event service: `recsys events post` with its URL found."""
    from recsys_workloads.events.cli import post

    try:
        url = _url_of("events", workdir, events_url)
    except EXPECTED as exc:
        raise _fail(exc) from exc
    post(item, event_type, user=user, anonymous=anonymous, device=device, url=url)
