"""A KFP v2beta1 REST API on loopback, answering like a Kubeflow Pipelines server.

Responses are built from kfp_server_api's own models (the client's generated types), so a
shape the real server would not send fails to deserialize. Tests drive run states.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kfp_server_api import models


@dataclass
class FakeKfp:
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def set_state(self, run_id: str, state: str, error: str | None = None) -> None:
        run = self.runs[run_id]
        run["state"] = state
        run["state_history"].append(
            {"update_time": f"2026-11-22T10:00:{len(run['state_history']):02d}Z", "state": state}
        )
        if error:
            run["error"] = {"code": 2, "message": error}

    def succeed(self, run_id: str) -> None:
        """Finish a run as KFP v2 reports it: task details whose outputs are ML Metadata artifact ids."""
        self.set_state(run_id, "RUNNING")
        self.set_state(run_id, "SUCCEEDED")
        run = self.runs[run_id]
        run["finished_at"] = "2026-11-22T10:20:00Z"
        run["run_details"] = _run_details(run_id, run["pipeline_spec"])


def _run_details(run_id: str, submitted: dict[str, Any]) -> dict[str, Any]:
    """What `GET /apis/v2beta1/runs/{id}` carries for a finished v2 run (shape of KFP 2.x servers).

    Output parameters and metrics are not in it: only artifact ids, names and states.
    """
    spec = submitted.get("pipeline_spec", submitted)  # with a platform spec the client nests it
    components = spec["components"]
    tasks = []
    artifact_id = 100
    for number, (name, task) in enumerate(sorted(spec["root"]["dag"]["tasks"].items())):
        outputs = components[task["componentRef"]["name"]].get("outputDefinitions", {}).get("artifacts", {})
        ids = {}
        for output in sorted(outputs):
            artifact_id += 1
            ids[output] = {"artifact_ids": [str(artifact_id)]}
        pod = f"{spec['pipelineInfo']['name']}-x7k2p-system-container-impl-{1000 + number}"
        tasks.append(
            {
                "run_id": run_id,
                "task_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/{name}").hex,
                "display_name": name,
                "create_time": "2026-11-22T10:00:05Z",
                "start_time": "2026-11-22T10:00:06Z",
                "end_time": "2026-11-22T10:19:00Z",
                "executor_detail": {"main_job": pod},
                "state": "SUCCEEDED",
                "execution_id": str(40 + number),
                "outputs": ids,
                "state_history": [
                    {"update_time": "2026-11-22T10:00:06Z", "state": "RUNNING"},
                    {"update_time": "2026-11-22T10:19:00Z", "state": "SUCCEEDED"},
                ],
                "pod_name": pod,
            }
        )
    return {"pipeline_context_id": "11", "pipeline_run_context_id": "12", "task_details": tasks}


def _handler(api: FakeKfp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, body: Any, code: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            body: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
            return body

        def do_GET(self) -> None:
            api.requests.append(("GET", self.path))
            if self.path == "/apis/v2beta1/healthz":
                return self._reply(models.V2beta1GetHealthzResponse(multi_user=False).to_dict())
            if self.path.startswith("/apis/v2beta1/experiments"):
                match = re.search(r"%22string_value%22%3A\+?%22([^%]+)%22", self.path)
                wanted = [
                    e for e in api.experiments.values() if match and e["display_name"] == match.group(1)
                ]
                return self._reply({"experiments": wanted, "total_size": len(wanted)})
            if self.path.startswith("/apis/v2beta1/runs?"):
                name = re.search(r"%22string_value%22%3A\+?%22([^%]+)%22", self.path)
                found = [r for r in api.runs.values() if name and r["display_name"] == name.group(1)]
                return self._reply(
                    {"runs": [models.V2beta1Run(**r).to_dict() for r in found], "total_size": len(found)}
                )
            match = re.fullmatch(r"/apis/v2beta1/runs/([^/?]+)", self.path)
            if match and match.group(1) in api.runs:
                return self._reply(models.V2beta1Run(**api.runs[match.group(1)]).to_dict())
            return self._reply({"code": 5, "message": "not found"}, 404)

        def do_POST(self) -> None:
            api.requests.append(("POST", self.path))
            body = self._body()
            if self.path == "/apis/v2beta1/experiments":
                experiment = {"experiment_id": uuid.uuid4().hex, "display_name": body["display_name"]}
                api.experiments[experiment["experiment_id"]] = experiment
                return self._reply(models.V2beta1Experiment(**experiment).to_dict())
            if self.path == "/apis/v2beta1/runs":
                run_id = uuid.uuid4().hex
                api.runs[run_id] = {
                    "run_id": run_id,
                    "display_name": body["display_name"],
                    "experiment_id": body.get("experiment_id"),
                    "pipeline_spec": body.get("pipeline_spec"),
                    "runtime_config": body.get("runtime_config"),
                    "state": "PENDING",
                    "state_history": [{"update_time": "2026-11-22T10:00:00Z", "state": "PENDING"}],
                }
                return self._reply(models.V2beta1Run(**api.runs[run_id]).to_dict())
            match = re.fullmatch(r"/apis/v2beta1/runs/([^/]+):terminate", self.path)
            if match and match.group(1) in api.runs:
                api.set_state(match.group(1), "CANCELING")
                return self._reply({})
            return self._reply({"code": 5, "message": "not found"}, 404)

    return Handler


@pytest.fixture
def fake_kfp() -> Iterator[FakeKfp]:
    api = FakeKfp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()
