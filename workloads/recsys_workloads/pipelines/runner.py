"""Run a pipeline and track it by id: the KFP server in a cluster, kfp.local on one machine.

Both runners answer the same questions the operator asks of a TrainingRun (submit, state,
cancel), so its reconciler never knows which one it drives. The local runner executes
`kfp.local` in a child process whose run folder holds the state history, so a restarted
operator (or `recsys local`) finds the run again by id.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from recsys_workloads.contracts.pipelines import COMPILED_DIR
from recsys_workloads.contracts.runs import (
    RunnerUnavailableError,
    RunState,
    RunStatus,
    StateChange,
)
from recsys_workloads.runtime.process import pid_alive

if TYPE_CHECKING:
    import kfp

STATE_FILE = "state.json"
# What `spec.training.kfpEndpoint` empty means: the KFP API inside the cluster (Kubeflow's default).
IN_CLUSTER_KFP = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
PROBE_TIMEOUT_S = 3.0


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LocalRunner:
    """kfp.local's SubprocessRunner in a detached child; one folder per run under `root`."""

    def __init__(self, root: Path, python: str = sys.executable) -> None:
        self.root = root
        self.python = python

    def run_dir(self, run_id: str) -> Path:
        return self.root / run_id

    def submit(self, pipeline: str, arguments: dict[str, object], run_name: str) -> str:
        """The run id is the run name: submitting the same name twice returns the first run."""
        run_id = run_name
        run_dir = self.run_dir(run_id)
        try:
            run_dir.mkdir(parents=True)
        except FileExistsError:
            return run_id
        (run_dir / "arguments.json").write_text(json.dumps(arguments, sort_keys=True))
        write_state(run_dir, RunStatus(run_id=run_id, pipeline=pipeline, state="PENDING"), "PENDING")
        # KFP's component command leaves a `mktemp -d` folder per step (it expects a pod's
        # throwaway disk): keep those, and TensorFlow's, in the run folder rather than /tmp.
        (run_dir / "tmp").mkdir()
        with (run_dir / "run.log").open("ab") as log:
            proc = subprocess.Popen(
                [self.python, "-m", "recsys_workloads.pipelines.local_run", str(run_dir), pipeline],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "TMPDIR": str(run_dir / "tmp")},
                start_new_session=True,  # outlives the submitter; cancel() signals its group
            )
        (run_dir / "pid").write_text(str(proc.pid))
        return run_id

    def status(self, run_id: str) -> RunStatus:
        path = self.run_dir(run_id) / STATE_FILE
        if not path.exists():
            raise KeyError(f"no local run {run_id} under {self.root}")
        status = RunStatus.model_validate_json(path.read_text())
        if not status.finished and status.state != "CANCELING" and not _alive(self.run_dir(run_id)):
            # The child died without a final state (killed, OOM): never report it as running.
            status = write_state(self.run_dir(run_id), status, "FAILED", "runner process exited unexpectedly")
        return status

    def wait(
        self, run_id: str, timeout_s: float, on_poll: Callable[[RunStatus], None] | None = None
    ) -> RunStatus:
        """Poll until the run finishes; TimeoutError (the run keeps going) after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status(run_id)
            if status.finished:
                return status
            if on_poll is not None:
                on_poll(status)
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {status.state} after {timeout_s:.0f} s")
            time.sleep(0.5)

    def cancel(self, run_id: str, grace_s: float = 10.0) -> None:
        run_dir = self.run_dir(run_id)
        status = self.status(run_id)
        if status.finished:
            return
        status = write_state(run_dir, status, "CANCELING")
        pid = int((run_dir / "pid").read_text())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)  # the kfp.local steps are in the same group
        deadline = time.monotonic() + grace_s
        while _alive(run_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        write_state(run_dir, status, "CANCELED")


def write_state(run_dir: Path, status: RunStatus, state: RunState, error: str | None = None) -> RunStatus:
    """Append a state change and replace the state file atomically (readers poll it)."""
    updated = status.model_copy(
        update={
            "state": state,
            "history": [*status.history, StateChange(state=state, time=now())],
            "error": error or status.error,
        }
    )
    tmp = run_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(updated.model_dump_json(indent=2))
    tmp.replace(run_dir / STATE_FILE)
    return updated


def _alive(run_dir: Path) -> bool:
    try:
        pid = int((run_dir / "pid").read_text())
    except FileNotFoundError:
        return True  # submit() has not written it yet
    return pid_alive(pid)


class KfpClientRunner:
    """A Kubeflow Pipelines server through `kfp.Client`, submitting the compiled YAML.

    The client is made at the first call, after a quick probe of the server's healthz: kfp's own
    constructor retries for 25 s and then raises, which would stall every reconcile. Every
    failure to reach the server is a RunnerUnavailableError (`PipelinesUnreachable`).
    """

    def __init__(
        self, host: str | None = None, experiment: str = "recsys", namespace: str | None = None
    ) -> None:
        self.host = (host or IN_CLUSTER_KFP).rstrip("/")
        self.experiment = experiment
        self.namespace = namespace

    @cached_property
    def client(self) -> kfp.Client:
        import kfp

        with self._reaching("healthz"):
            urllib.request.urlopen(f"{self.host}/apis/v2beta1/healthz", timeout=PROBE_TIMEOUT_S).close()
        with self._reaching("connect"):
            return kfp.Client(host=self.host)

    @contextlib.contextmanager
    def _reaching(self, what: str) -> Iterator[None]:
        import kfp_server_api
        import urllib3

        try:
            yield
        except (
            OSError,
            urllib.error.URLError,
            urllib3.exceptions.HTTPError,
            kfp_server_api.ApiException,
        ) as exc:
            detail = " ".join(str(exc).split())[:300]
            raise RunnerUnavailableError(
                "PipelinesUnreachable", f"Kubeflow Pipelines at {self.host} ({what}): {detail}"
            ) from exc

    def submit(self, pipeline: str, arguments: dict[str, object], run_name: str) -> str:
        package = COMPILED_DIR / f"{pipeline}.yaml"
        if not package.exists():
            raise KeyError(f"no compiled pipeline {pipeline!r} in {COMPILED_DIR} (run `make pipelines`)")
        existing = self.find(run_name)
        if existing is not None:
            return existing
        with self._reaching("create run"):
            result = self.client.create_run_from_pipeline_package(
                str(package),
                arguments=dict(arguments),
                run_name=run_name,
                experiment_name=self.experiment,
                namespace=self.namespace,
            )
        return str(result.run_id)

    def find(self, run_name: str) -> str | None:
        """The id of a run already submitted under `run_name` (submission is idempotent by name)."""
        predicate = {"key": "display_name", "operation": "EQUALS", "string_value": run_name}
        with self._reaching("list runs"):
            response = self.client.list_runs(filter=json.dumps({"predicates": [predicate]}), page_size=1)
        runs = response.runs or []
        return str(runs[0].run_id) if runs else None

    def status(self, run_id: str) -> RunStatus:
        with self._reaching("get run"):
            run = self.client.get_run(run_id)
        history = [
            StateChange(state=_kfp_state(change.state), time=change.update_time)
            for change in (run.state_history or [])
            if change.update_time is not None
        ]
        error = run.error.message if run.error is not None and run.error.message else None
        state = _kfp_state(run.state)
        parameters = (run.runtime_config.parameters if run.runtime_config is not None else None) or {}
        return RunStatus(
            run_id=run_id,
            pipeline=str(run.display_name or ""),
            state=state,
            history=history,
            error=error,
            outputs=recorded_outputs(run_id, parameters) if state == "SUCCEEDED" else {},
        )

    def cancel(self, run_id: str) -> None:
        with self._reaching("terminate run"):
            self.client.terminate_run(run_id)


def recorded_outputs(run_id: str, parameters: Mapping[str, object]) -> dict[str, object]:
    """What the run's `record_outputs` step wrote: the same shape as the local runner's outputs.

    KFP's v2beta1 REST API lists a task's outputs only as ML Metadata artifact ids (no
    parameter values, no metrics), so the pipeline writes them to the artifact store under
    its own run id; the run's `config` parameter says where. Empty when it is missing.
    """
    from recsys_workloads.contracts.pipelines import PipelineConfig
    from recsys_workloads.pipelines import store

    text = parameters.get("config")
    if not isinstance(text, str):
        return {}
    parsed = PipelineConfig.from_argument(text)
    try:
        document = json.loads(
            store.read_text(store.outputs_uri(parsed.artifact_root, parsed.recommender, run_id))
        )
    except FileNotFoundError:
        return {}
    return dict(document) if isinstance(document, dict) else {}


def _kfp_state(state: str | None) -> RunState:
    """KFP's V2beta1RuntimeState onto ours; PAUSED/SKIPPED/unspecified read as still pending."""
    known: dict[str, RunState] = {
        "PENDING": "PENDING",
        "RUNNING": "RUNNING",
        "SUCCEEDED": "SUCCEEDED",
        "FAILED": "FAILED",
        "CANCELING": "CANCELING",
        "CANCELED": "CANCELED",
    }
    return known.get(state or "", "PENDING")
