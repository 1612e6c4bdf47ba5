"""`recsys local up|status|train|down`: one RecommenderSystem on one machine, real components.

The operator's own reconcilers do the deciding: the RecommenderSystem reconcile runs
against `LocalCluster` (its conditions, its initial TrainingRun), TrainingRuns go through
the TrainingRun reconcile with kfp.local's runner, and promotion uses the same rollout as
the cluster. What differs is only how workloads exist: redis-server instead of the Valkey
StatefulSet, a `tritonserver` process instead of the Deployment, a folder instead of the
model volume, the event service and the API as uvicorn processes. All on loopback.

Layout of the work folder: `state.json` (see state.py), `data/canonical` (the dataset the
event service and API read), `runs/` (pipeline runs; `runs/<ns>-<name>/models` holds the
numbered model versions), `redis/`, `serving/` (Triton's repository and log; `pinned.json`: the
versions served beside the current one, docs/decisions/0024), `events/`
(the event log the incremental runs learn from), `api/` (its config; `report.json`: a link to the
current version's evaluation report, which the demo page charts).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from recsys_local.mode import processes
from recsys_local.mode.cluster import LocalCluster
from recsys_local.mode.state import LocalState, load, locked, save
from recsys_operator.adapters import pipelines as pipeline_adapter
from recsys_operator.adapters.eks import CapacityState
from recsys_operator.adapters.valkey import read_arm_counters
from recsys_operator.api import API_VERSION
from recsys_operator.api.recommender_system import KIND, ExperimentStatus, ModelStatus, RecommenderSystemSpec
from recsys_operator.manifests import training
from recsys_operator.manifests.common import Owner
from recsys_operator.reconcilers import promotion
from recsys_operator.reconcilers import recommender_system as rs_reconciler
from recsys_operator.reconcilers import training_run as tr_reconciler
from recsys_operator.reconcilers.experiment import resolve as resolve_experiment
from recsys_workloads.contracts.access import AccessEnv, AuthSpec, GuardConfig, RateLimitConfig
from recsys_workloads.contracts.evaluation import REPORT_JSON
from recsys_workloads.contracts.experiment import ArmCounters, ResolvedExperiment
from recsys_workloads.contracts.rollout import RolloutResult
from recsys_workloads.contracts.serving import ENSEMBLE, ENSEMBLE_OF, POPULAR_ENSEMBLE, pinned_ensemble
from recsys_workloads.models.artifacts import EVALUATION_DIR
from recsys_workloads.pipelines.runner import LocalRunner
from recsys_workloads.runtime import toolchain as tc
from recsys_workloads.runtime.http_guard import load_token
from recsys_workloads.runtime.ports import LOOPBACK, free_ports, port_is_open
from recsys_workloads.runtime.process import ManagedProcess, ServerStartError

COMPONENTS = ("redis", "triton", "events", "api")  # start order; stopped in reverse
LABEL_OF = {"valkey": "redis", "triton": "triton", "events": "events", "api": "api"}
FINISHED = ("SUCCEEDED", "FAILED", "CANCELED")
WAL_FLUSH_S = 1.0
ROLLOUT_PARALLEL = 2  # concurrent step loads: one per core here, so serving keeps a share of CPU


class LocalModeError(RuntimeError):
    """A clear, user-facing reason local mode cannot go on (nothing half-done is left behind)."""


# --- the spec file -------------------------------------------------------------------------


def read_spec_file(path: Path) -> tuple[str, dict[str, Any]]:
    """Name and spec of the RecommenderSystem in a YAML file (the same file a cluster gets)."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except OSError as exc:
        raise LocalModeError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise LocalModeError(f"{path} is not valid YAML: {exc}") from exc
    found = [d for d in documents if isinstance(d, dict) and d.get("kind") == KIND]
    if len(found) != 1:
        raise LocalModeError(f"{path} must hold exactly one {KIND}, found {len(found)}")
    name = (found[0].get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise LocalModeError(f"{path}: metadata.name is required")
    spec = resolve_local_paths(found[0].get("spec") or {}, path.parent)
    parsed, problems = rs_reconciler.spec_problems(spec, Owner(name=name, namespace="local", uid=""))
    if parsed is None or problems:
        raise LocalModeError(f"{path}: invalid spec:\n  " + "\n  ".join(problems))
    return name, spec


LOCAL_PATH_FIELDS = ("uri", "interactionsUri", "imagesUri", "eventsUri")


def resolve_local_paths(spec: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative data paths in a local spec file are relative to that file, as a user reads them;
    the spec (and a cluster) accepts only absolute paths or s3:// prefixes."""
    sources = spec.get("dataSources")
    if not isinstance(sources, dict):
        return spec
    resolved = {
        key: str((base / value).resolve())
        if key in LOCAL_PATH_FIELDS
        and isinstance(value, str)
        and value
        and "://" not in value
        and not value.startswith("/")
        else value
        for key, value in sources.items()
    }
    return {**spec, "dataSources": resolved}


def localize(
    spec: dict[str, Any], workdir: Path, today: dt.date, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """Local-mode defaults: a generated shop whose history ends yesterday, the local event log.

    Kept from `previous` once chosen, so a second `up` on another day trains on the same shop.
    """
    out = yaml.safe_load(yaml.safe_dump(spec))  # a deep, plain copy
    sources = out.setdefault("dataSources", {})
    sources.setdefault("eventsUri", str(events_dir(workdir)))
    if sources.get("layout", "generated") == "generated":
        generator = sources.setdefault("generator", {})
        kept = ((previous or {}).get("dataSources") or {}).get("generator") or {}
        if "startDate" not in generator:
            days = int(generator.get("days", 14))
            generator["startDate"] = kept.get("startDate") or (today - dt.timedelta(days=days)).isoformat()
    return dict(out)


def events_dir(workdir: Path) -> Path:
    return workdir.resolve() / "events"


def canonical_dir(workdir: Path) -> Path:
    return workdir.resolve() / "data" / "canonical"


# --- the system ----------------------------------------------------------------------------


class LocalSystem:
    """One work folder = one RecommenderSystem; every public method takes the folder's lock."""

    def __init__(
        self, workdir: Path, console: Console | None = None, toolchain: tc.Toolchain | None = None
    ) -> None:
        self.workdir = workdir.resolve()
        self.console = console or Console()
        self._toolchain = toolchain

    @property
    def toolchain(self) -> tc.Toolchain:
        if self._toolchain is None:
            self._toolchain = tc.discover()
        return self._toolchain

    # -- commands --

    def up(self, spec_file: Path, timeout_s: float = 3600) -> LocalState:
        name, spec = read_spec_file(spec_file)
        self.toolchain  # noqa: B018  (a missing binary fails here, before anything starts)
        with locked(self.workdir):
            state = load(self.workdir)
            if state is not None and state.name != name:
                raise LocalModeError(
                    f"{self.workdir} holds recommender {state.name!r}, not {name!r}: use another --workdir"
                )
            effective = localize(spec, self.workdir, dt.date.today(), state.spec if state else None)
            if state is None:
                state = LocalState(name=name, spec=effective)
            elif effective != state.spec:
                state.spec, state.generation = effective, state.generation + 1
            self._up(state, timeout_s)
            return state

    def status(self) -> LocalState:
        """Reconcile once and keep the result: an experiment's start time and decision live in the
        status, and a decision changes the API's split (the API restarts with the winner alone)."""
        with locked(self.workdir):
            state = self._require_state()
            self._reconcile(state)
            if "api" in state.processes and state.spec.get("experiment"):
                self._pin_experiment_versions(state)
                self._ensure_python_service(state, "api")
            save(self.workdir, state)
            return state

    def train(self, incremental: bool = True, timeout_s: float = 3600) -> LocalState:
        with locked(self.workdir):
            state = self._require_state()
            with self._local_runner_env():
                if incremental:
                    self._flush_events(state)
                    owner = self._owner(state)
                    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
                    run = training.training_run(
                        owner, owner.child_name(f"incremental-{stamp}"), "Incremental"
                    )
                    self._cluster(state).apply(run)
                    state.status["lastTrainingRun"] = run["metadata"]["name"]
                    save(self.workdir, state)
                self._drive_training_runs(state, timeout_s)
                self._serve_current(state)
                self._reconcile(state)
            save(self.workdir, state)
            return state

    def serve_pinned(self, versions: Sequence[int]) -> list[int]:
        """Serve `versions` beside the current one (an experiment's arms); see `_serve_pinned`."""
        with locked(self.workdir):
            return self._serve_pinned(self._require_state(), versions)

    def down(self) -> list[str]:
        """Stop every server (newest first); data, models and the event log stay."""
        with locked(self.workdir):
            state = load(self.workdir)
            if state is None:
                return []
            stopped = []
            for name in reversed(COMPONENTS):
                record = state.processes.pop(name, None)
                if record is not None and processes.stop(record):
                    stopped.append(name)
            self._reconcile(state)
            save(self.workdir, state)
            return stopped

    # -- up, step by step --

    def _up(self, state: LocalState, timeout_s: float) -> None:
        self._forget_dead(state)
        canonical = self._ensure_canonical(state)
        self._ensure_redis(state)
        if not state.online_warmed:
            self._warm(state, canonical)
        save(self.workdir, state)
        with self._local_runner_env():
            self._reconcile(state)  # creates the initial TrainingRun when no model exists
            save(self.workdir, state)
            self._drive_training_runs(state, timeout_s)
        self._serve_current(state)
        self._pin_experiment_versions(state)
        self._ensure_python_service(state, "events")
        self._ensure_python_service(state, "api")
        self._reconcile(state)
        save(self.workdir, state)

    def _forget_dead(self, state: LocalState) -> None:
        """A crashed or killed server is stopped for good (its group too) and started afresh."""
        for name in reversed(COMPONENTS):
            record = state.processes.get(name)
            if record is not None and not processes.healthy(record):
                processes.stop(record, grace_s=5)
                del state.processes[name]
                self.console.print(f"[yellow]{name} (pid {record.pid}) was not healthy: restarting it[/]")

    def _ensure_canonical(self, state: LocalState) -> Path:
        """The dataset the event service and API read: the pipelines' data step, run once here.

        Generation is deterministic (seed and start date are in the spec), so it matches
        what the pipeline's own data step produces from the same spec.
        """
        from recsys_workloads.contracts.data_sources import DataSourcesSpec
        from recsys_workloads.data import schema as s
        from recsys_workloads.data.sources import prepare_canonical

        canonical = canonical_dir(self.workdir)
        if (canonical / s.MANIFEST_FILE).exists():
            return canonical
        sources = DataSourcesSpec.model_validate(state.spec.get("dataSources") or {})
        sources = sources.model_copy(update={"events_uri": None})
        started = time.monotonic()
        with self.console.status("preparing the dataset (generate or ingest, validate)"):
            staging = canonical.with_name(".canonical-staging")
            if staging.exists():  # left by an interrupted up
                shutil.rmtree(staging)
            summary = prepare_canonical(sources, staging, self.workdir / "data" / ".scratch")
            staging.rename(canonical)
        self.console.print(
            f"dataset ready in {canonical} ({time.monotonic() - started:.0f} s){summary.unknown_note()}"
        )
        return canonical

    def _ensure_redis(self, state: LocalState) -> None:
        if "redis" in state.processes:
            return
        from recsys_workloads.runtime.redis_server import RedisServer

        port = self._port(state, "redis", "redis")
        server = RedisServer(self.toolchain.redis_server, self._dir("redis"), port=port, persistent=True)
        server.start()
        state.processes["redis"] = processes.record_of("redis", server.process, {"redis": port}, server.url)
        save(self.workdir, state)
        self.console.print(
            f"[green]redis-server[/] {server.url} (pid {server.process.pid}, append-only file)"
        )

    def _warm(self, state: LocalState, canonical: Path) -> None:
        from recsys_workloads.contracts.online import SeenFilterConfig
        from recsys_workloads.online.client import connect
        from recsys_workloads.online.warmup import warm_online_state

        seen = SeenFilterConfig.model_validate(state.spec.get("filtering") or {})
        client = connect(self.redis_url(state), timeout_s=10.0)
        try:
            with self.console.status("warming Valkey from history (popularity, seen filters, recent items)"):
                summary = warm_online_state(client, canonical, seen)
        finally:
            client.close()
        state.online_warmed = True
        self.console.print(
            f"online state: {summary.popularity_rows:,} popularity rows, {summary.visitors:,} visitors, "
            f"{summary.seen_items:,} seen items"
        )

    # -- training --

    def _drive_training_runs(self, state: LocalState, timeout_s: float) -> None:
        """Reconcile every unfinished TrainingRun until its pipeline ends (one at a time)."""
        cluster = self._cluster(state)
        runner = LocalRunner(pipeline_adapter.local_runs_root())
        for run in cluster.objects_of("TrainingRun"):
            if (run.get("status") or {}).get("state") in FINISHED:
                self._promote(state, run, run["status"])  # a no-op unless an interrupted up left it
                continue
            name = run["metadata"]["name"]
            started, printed = time.monotonic(), set[str]()
            with self.console.status(f"TrainingRun {name}: submitting") as spinner:
                while True:
                    current = cluster.get(run["apiVersion"], "TrainingRun", name, state.namespace) or run
                    status = tr_reconciler.reconcile(current, state.body(), runner)
                    cluster.patch_status(run["apiVersion"], "TrainingRun", name, state.namespace, status)
                    save(self.workdir, state)
                    self._print_steps(runner, status.get("kfpRunId"), printed)
                    elapsed = time.monotonic() - started
                    spinner.update(
                        f"TrainingRun {name}: {str(status.get('state', '')).lower()} for {elapsed:.0f} s"
                    )
                    if status.get("state") in FINISHED:
                        break
                    if elapsed > timeout_s:
                        runner.cancel(status["kfpRunId"])
                        raise LocalModeError(f"TrainingRun {name} ran over {timeout_s:.0f} s: canceled")
                    time.sleep(2.0)
            self._report_run(name, status, runner)
            self._promote(state, run, status)

    def _print_steps(self, runner: LocalRunner, run_id: str | None, printed: set[str]) -> None:
        """Each pipeline step's wall time, once, as the run log reports it."""
        from recsys_workloads.pipelines.steps import step_timings

        if run_id is None:
            return
        log = runner.run_dir(run_id) / "run.log"
        if not log.exists():
            return
        for step, seconds in step_timings(log.read_text(errors="replace")).items():
            if step not in printed:
                printed.add(step)
                self.console.print(f"  [dim]step[/] {step}: {seconds:.1f} s")

    def _report_run(self, name: str, status: dict[str, Any], runner: LocalRunner) -> None:
        if status.get("state") != "SUCCEEDED":
            conditions = {c["type"]: c for c in status.get("conditions", [])}
            message = conditions.get("Failed", {}).get("message", "")
            log = runner.run_dir(status["kfpRunId"]) / "run.log"
            raise LocalModeError(f"TrainingRun {name} {status.get('state')}: {message} (log: {log})")
        measured = status.get("metrics") or {}
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in measured.items() if isinstance(v, float))
        if "queries" in measured:
            metrics += f" on {measured['queries']} held-out queries"
        versions = status.get("modelVersions") or {}
        succeeded: dict[str, Any] = next(
            (c for c in status.get("conditions", []) if c["type"] == "Succeeded"), {}
        )
        gate = f"{succeeded.get('reason')}: {succeeded.get('message')}"
        produced = f"version {versions['homepage']}" if versions else f"no new version ({gate})"
        self.console.print(f"[green]TrainingRun {name} succeeded[/]: {produced}; {metrics}")

    # -- serving --

    def _promote(self, state: LocalState, run: dict[str, Any], status: dict[str, Any]) -> None:
        """The operator's promotion policy (reconcilers/promotion.py) with the local Triton as switcher."""
        produced = (status.get("modelVersions") or {}).get(ENSEMBLE)
        cluster = self._cluster(state)
        event = promotion.promote(
            (run.get("spec") or {}).get("promote", "Auto"),
            status,
            state.body(),
            produced,
            _LocalSwitcher(self, state),
            lambda patch: cluster.patch_status(API_VERSION, KIND, state.name, state.namespace, patch),
        )
        save(self.workdir, state)
        if event is not None:
            colour = "green" if event.type == "Normal" else "red"
            self.console.print(f"[{colour}]{event.reason}[/]: {event.message}")

    def version_dir(self, state: LocalState, version: int) -> Path:
        with self._local_runner_env():  # the adapter finds local mode's storage through the environment
            storage = pipeline_adapter.storage_for(state.namespace, state.name)
        return Path(storage.model_repository) / str(version)

    def _serve_current(self, state: LocalState) -> None:
        """Start Triton on `status.model.currentVersion` (promotion switches a running one)."""
        self._restart_if_changed(state, "triton", self._graph_hash(state))
        if "triton" not in state.processes:
            current = (state.status.get("model") or {}).get("currentVersion")
            if not isinstance(current, int):
                raise LocalModeError("no model version serves: the initial TrainingRun published none")
            with self._local_runner_env():
                self._start_triton(state, current)
        ports = state.processes["triton"].ports
        state.status["endpoint"] = f"{LOOPBACK}:{ports['grpc']}"
        self._link_report(state)
        save(self.workdir, state)

    def _link_report(self, state: LocalState) -> Path:
        """Point `api/report.json` at the current version's report; returns the link.

        A link and not the version folder in the API's config: the API reads the report on every
        request, so a promotion shows on the page without restarting the API (a changed config
        would restart it). Dangling while no version serves: the page then shows no chart.
        """
        link = self._dir("api") / REPORT_JSON
        current = (state.status.get("model") or {}).get("currentVersion")
        if isinstance(current, int):
            target = self.version_dir(state, current) / EVALUATION_DIR / REPORT_JSON
            if not link.is_symlink() or link.readlink() != target:
                fresh = link.with_name(f".{REPORT_JSON}.{os.getpid()}")
                fresh.unlink(missing_ok=True)
                fresh.symlink_to(target)
                fresh.replace(link)  # atomic: a request never sees no link
        return link

    def _repository(self, state: LocalState, version: int, validate: bool) -> Path:
        """Triton's repository for `version` and the pinned ones (rendered only when it changed)."""
        from recsys_workloads.serving.triton.repository import build_version_repository

        repository = self._dir("serving") / "repository"
        marker = self._dir("serving") / "version"
        pinned = self.pinned_versions()
        rendered = f"{version} {self._graph_hash(state)} {pinned}"
        if repository.exists() and marker.exists() and marker.read_text().strip() == rendered:
            return repository
        graph = RecommenderSystemSpec.model_validate(state.spec).serving_graph()
        build_version_repository(
            self.version_dir(state, version),
            repository,
            self.redis_url(state),
            graphs=(graph.graph,),
            config=graph,
            toolchain=self.toolchain if validate else None,
            pinned={n: self.version_dir(state, n) for n in pinned},
        )
        marker.write_text(rendered)
        return repository

    def pinned_versions(self) -> list[int]:
        """The versions served beside the current one (`serving/pinned.json`; none without it)."""
        path = self._dir("serving") / "pinned.json"
        return [int(n) for n in json.loads(path.read_text())] if path.exists() else []

    def _pin_experiment_versions(self, state: LocalState) -> None:
        """Triton serves the versions the experiment's arms pin, before the API routes to them."""
        spec = RecommenderSystemSpec.model_validate(state.spec)
        served = served_experiment(spec, state.status)
        current = (state.status.get("model") or {}).get("currentVersion")
        wanted = served.pinned_versions(current) if served is not None else []
        if wanted != self.pinned_versions():
            self._serve_pinned(state, wanted)

    def _serve_pinned(self, state: LocalState, versions: Sequence[int]) -> list[int]:
        """Make the running Triton serve exactly `versions` beside the current one; returns them.

        The repository is rerendered with them and each new one is loaded live through the
        repository API (with a canary); versions no longer wanted are unloaded, the current
        graph is never touched. A version that fails to load is left out and raises
        LocalModeError after the others are settled; `pinned.json` records what serves, so
        a restarted Triton loads the same. Without a running Triton they are only recorded.
        """
        from recsys_workloads.serving.triton.rollout import sync_pinned_triton

        wanted = sorted(set(versions))
        missing = [str(self.version_dir(state, n)) for n in wanted if not self.version_dir(state, n).is_dir()]
        if missing:
            raise LocalModeError(f"no such model versions: {missing}")
        path = self._dir("serving") / "pinned.json"
        path.write_text(json.dumps(wanted))
        record = state.processes.get("triton")
        if record is None:
            return wanted
        current = (state.status.get("model") or {}).get("currentVersion")
        if not isinstance(current, int):
            raise LocalModeError("no model version serves: nothing to pin versions beside")
        graph = RecommenderSystemSpec.model_validate(state.spec).serving.graph
        self._repository(state, current, validate=False)
        with self.console.status(f"loading pinned versions {wanted or 'none'} into the running Triton"):
            synced = sync_pinned_triton(
                record.url.removeprefix("http://"), [pinned_ensemble(graph, n) for n in wanted]
            )
        served = [n for n in wanted if pinned_ensemble(graph, n) in synced.served]
        if served != wanted:
            path.write_text(json.dumps(served))
            self._repository(state, current, validate=False)
        if synced.failures:
            raise LocalModeError(f"pinned versions: {'; '.join(synced.failures)}")
        self.console.print(f"[green]pinned versions[/] {served or 'none'} serve beside version {current}")
        return served

    def _start_triton(self, state: LocalState, version: int) -> None:
        from recsys_workloads.runtime.triton_server import TritonPorts, TritonServer

        graph = RecommenderSystemSpec.model_validate(state.spec).serving_graph()
        with self.console.status(
            f"the {graph.graph} repository of version {version} (validated in Triton first)"
        ):
            repository = self._repository(state, version, validate=True)
        ports = self._ports(state, "triton", ("http", "grpc", "metrics"))
        pinned = [pinned_ensemble(graph.graph, n) for n in self.pinned_versions()]
        server = TritonServer(
            self.toolchain,
            repository,
            self._dir("serving"),
            model_control="explicit",
            load_models=[ENSEMBLE_OF[graph.graph], POPULAR_ENSEMBLE, *pinned],
            ports=TritonPorts(**ports),
        )
        with self.console.status("starting tritonserver"):
            server.start(timeout_s=300)
        state.processes["triton"] = processes.record_of(
            "triton", server.process, ports, f"http://{server.http_url}", self._graph_hash(state)
        )
        save(self.workdir, state)
        self.console.print(
            f"[green]tritonserver[/] gRPC {server.grpc_url}, HTTP {server.http_url} "
            f"(pid {server.process.pid}), model version {version}, graph {graph.graph}"
            + (f", pinned {pinned}" if pinned else "")
        )

    def _ensure_python_service(self, state: LocalState, name: str) -> None:
        config = self._service_config(state, name)
        self._restart_if_changed(state, name, config_hash(config))
        if name in state.processes:
            return
        port = self._port(state, name, "http")
        config_path = self._dir(name) / "config.json"
        config_path.write_text(config)
        module = {"events": "recsys_workloads.events.cli", "api": "recsys_workloads.serving.api.cli"}[name]
        argv = [
            sys.executable,
            "-m",
            module,
            "serve",
            "--config",
            str(config_path),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
        ]
        # The API forwards the demo page's clicks to the event service with the same local token.
        token = load_token()
        env = {**os.environ, AccessEnv.EVENTS_TOKEN: token} if name == "api" and token else None
        process = ManagedProcess(
            name, argv, self._dir(name) / f"{name}.log", env=env, cwd=self.workdir, ports=[port]
        )
        url = f"http://{LOOPBACK}:{port}"
        process.start()
        process.wait_ready(lambda: processes.http_ok(url + "/healthz"), timeout_s=120)
        state.processes[name] = processes.record_of(name, process, {"http": port}, url, config_hash(config))
        save(self.workdir, state)
        self.console.print(
            f"[green]{'event service' if name == 'events' else 'recommendation API'}[/] {url} (pid {process.pid})"
        )

    def _service_config(self, state: LocalState, name: str) -> str:
        spec = RecommenderSystemSpec.model_validate(state.spec)
        if name == "events":
            from recsys_workloads.contracts.events import EventServiceConfig, WalConfig
            from recsys_workloads.contracts.online import PopularityConfig, SeenFilterConfig

            events = EventServiceConfig(
                redis_url=self.redis_url(state),
                catalog=canonical_dir(self.workdir),
                log_dir=events_dir(self.workdir),
                writer_id="local",
                wal=WalConfig(flush_interval_s=WAL_FLUSH_S),
                seen_filter=SeenFilterConfig.model_validate(state.spec.get("filtering") or {}),
                popularity=PopularityConfig.model_validate(state.spec.get("popularity") or {}),
                guard=local_guard(spec.events.auth, spec.events.rate_limit),
            )
            return events.model_dump_json(by_alias=True)
        from recsys_workloads.serving.api.app import ApiConfig

        triton = state.processes["triton"].ports
        api = ApiConfig(
            triton_url=f"{LOOPBACK}:{triton['grpc']}",
            model=ENSEMBLE_OF[spec.serving.graph],
            timeout_s=spec.api.timeout_s,
            redis_url=self.redis_url(state),
            catalog=canonical_dir(self.workdir),
            events_url=state.processes["events"].url,
            guard=local_guard(spec.api.auth, spec.api.rate_limit),
            experiment=served_experiment(spec, state.status),
            report=self._link_report(state),
        )
        return api.model_dump_json()

    def _graph_hash(self, state: LocalState) -> str:
        return config_hash(RecommenderSystemSpec.model_validate(state.spec).serving_graph().model_dump_json())

    def _restart_if_changed(self, state: LocalState, name: str, wanted: str) -> None:
        """A server started with another configuration (the spec changed) is stopped, to start anew."""
        record = state.processes.get(name)
        if record is not None and record.config_hash != wanted:
            self.console.print(f"[yellow]{name}: its configuration changed with the spec, restarting it[/]")
            processes.stop(record)
            del state.processes[name]
            save(self.workdir, state)

    def _flush_events(self, state: LocalState) -> None:
        """Wait (briefly) until the event service has turned its WAL into parquet parts."""
        wal = events_dir(self.workdir) / "wal"
        deadline = time.monotonic() + 10 * WAL_FLUSH_S + 5
        while time.monotonic() < deadline:
            pending = [p for p in wal.glob("*.jsonl") if p.stat().st_size > 0] if wal.exists() else []
            if not pending or "events" not in state.processes:
                return
            time.sleep(WAL_FLUSH_S / 2)
        self.console.print(
            "[yellow]the event service still holds unflushed events: they join the next run[/]"
        )

    # -- reconcile --

    def _reconcile(self, state: LocalState) -> None:
        with self._local_runner_env():
            status = rs_reconciler.reconcile(
                state.body(), self._cluster(state), eks=_no_eks, read_counters=self._counter_reader(state)
            )
        state.status.update(status)

    def _counter_reader(self, state: LocalState) -> rs_reconciler.CounterReader:
        """Local mode's own Valkey, whose keys carry no recommender namespace (one recommender)."""

        def read(_url: str, _namespace: str, experiment: str, arms: Sequence[str]) -> dict[str, ArmCounters]:
            if "redis" not in state.processes:
                raise OSError("the local redis-server is not running")
            return read_arm_counters(self.redis_url(state), "", experiment, arms)

        return read

    def _cluster(self, state: LocalState) -> LocalCluster:
        def ready(component: str) -> bool:
            record = state.processes.get(LABEL_OF.get(component, component))
            return record is not None and processes.healthy(record)

        return LocalCluster(state, ready)

    # -- small helpers --

    def _require_state(self) -> LocalState:
        state = load(self.workdir)
        if state is None:
            raise LocalModeError(f"nothing in {self.workdir}: run `recsys local up -f <spec.yaml>` first")
        return state

    def _owner(self, state: LocalState) -> Owner:
        return Owner(name=state.name, namespace=state.namespace, uid=state.uid)

    def redis_url(self, state: LocalState) -> str:
        return state.processes["redis"].url

    def _dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _port(self, state: LocalState, component: str, key: str) -> int:
        return self._ports(state, component, (key,))[key]

    def _ports(self, state: LocalState, component: str, keys: tuple[str, ...]) -> dict[str, int]:
        """The ports `component` had last time if they are all free again (stable URLs), else fresh ones."""
        remembered = state.ports.get(component) or {}
        if all(k in remembered for k in keys) and not any(port_is_open(remembered[k]) for k in keys):
            chosen = {k: remembered[k] for k in keys}
        else:
            chosen = dict(zip(keys, free_ports(len(keys)), strict=True))
        state.ports[component] = chosen
        return chosen

    @contextlib.contextmanager
    def _local_runner_env(self) -> Iterator[None]:
        """The operator's pipeline adapter in local mode, with this folder as its runs root."""
        saved = {k: os.environ.get(k) for k in (pipeline_adapter.RUNNER_ENV, pipeline_adapter.LOCAL_RUNS_ENV)}
        os.environ[pipeline_adapter.RUNNER_ENV] = "local"
        os.environ[pipeline_adapter.LOCAL_RUNS_ENV] = str(self._dir("runs"))
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class _LocalSwitcher:
    """promotion.Switcher for the local Triton: the cluster's rollout, then the repository on disk.

    The repository is rewritten after a successful switch so a restarted Triton comes up on
    the version that serves (the cluster's pods get it from their template instead).
    """

    def __init__(self, system: LocalSystem, state: LocalState) -> None:
        self.system, self.state = system, state

    def switch(self, version: int) -> RolloutResult | None:
        from recsys_workloads.serving.triton.rollout import switch_triton

        record = self.state.processes.get("triton")
        if record is None:
            return None  # started later on the promoted version
        graph = RecommenderSystemSpec.model_validate(self.state.spec).serving.graph
        started = time.monotonic()
        with self.system.console.status(f"rolling version {version} into the running Triton"):
            result = switch_triton(
                record.url.removeprefix("http://"),
                self.system.version_dir(self.state, version),
                ENSEMBLE_OF[graph],
                parallel=ROLLOUT_PARALLEL,
            )
        if result.transition == "UpToDate":
            self.system._repository(self.state, version, validate=False)
        self.system.console.print(f"switch to version {version}: {time.monotonic() - started:.1f} s")
        return result


class _NoNodeGroups:
    """Local mode has no cloud: an EKS node group is reported, not reconciled."""

    def reconcile(self, cluster: str, node_group: str, min_nodes: int, max_nodes: int) -> CapacityState:
        return CapacityState(
            ready=True, message=f"local mode: EKS node group {cluster}/{node_group} not managed"
        )


def served_experiment(spec: RecommenderSystemSpec, status: dict[str, Any]) -> ResolvedExperiment | None:
    """The arms the API splits visitors over, as the last reconcile left them (the operator's
    resolution: all arms, the winner alone after an Auto decision, none while an arm is unservable)."""
    if spec.experiment is None:
        return None
    raw = status.get("experiment")
    decided = ExperimentStatus.model_validate(raw) if raw else None
    if decided is not None and decided.name != spec.experiment.name:
        decided = None
    model = ModelStatus.model_validate(status.get("model") or {})
    served, _ = resolve_experiment(spec.experiment, model, spec.serving.graph, decided)
    return served


def local_guard(auth: AuthSpec, rate_limit: RateLimitConfig) -> GuardConfig:
    """A front door's guard in local mode: no Secrets here, so a spec that names one needs the token
    in $RECSYS_AUTH_TOKEN (or a file named by $RECSYS_AUTH_TOKEN_FILE); a token there guards both
    front doors even when the spec names none."""
    if auth.token_secret_ref is not None and not load_token():
        ref = auth.token_secret_ref
        raise LocalModeError(
            f"the spec asks for a bearer token (Secret {ref.name}, key {ref.key}); local mode has no "
            f"Secrets: set ${AccessEnv.TOKEN} or ${AccessEnv.TOKEN_FILE} before `recsys local up`"
        )
    return GuardConfig(token_required=auth.token_secret_ref is not None, rate_limit=rate_limit)


def config_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _no_eks() -> Any:
    return _NoNodeGroups()


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, ServerStartError | LocalModeError | tc.ToolchainError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
