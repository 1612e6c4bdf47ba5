"""The operator as an operator: installed from deploy/, a RecommenderSystem brought to Ready in pods.

One module, in order (each test leans on the ones before): the operator's own pod; a tiny
RecommenderSystem trained by a Job and served by Valkey, Triton, API and event service pods;
homepages and a click through port-forwards; an incremental run rolled out under load; pods
deleted under load; what kubectl and Argo CD show; deletion. Three more recommenders are
broken on purpose, each in its own namespace, to see every dependency the operator waits on
in the status: a missing StorageClass, an image that cannot be pulled, a crash loop, an
unreachable KFP server and a failed training run. Figures go to $RECSYS_CLUSTER_REPORT
(JSON; docs/benchmarks.md quotes them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from recsys_local.testbed.argocd import health
from recsys_local.testbed.node import NodeEnv, kubectl, kubectl_json, port_forward
from recsys_local.testbed.wait import until
from recsys_operator.api.crd import CATEGORY
from recsys_workloads.data.generator import GeneratorConfig, build_world

REPO = Path(__file__).resolve().parents[2]
OPERATOR_NS = "recsys-system"
EXAMPLE = yaml.safe_load((REPO / "examples" / "cluster.yaml").read_text())
NAME = EXAMPLE["metadata"]["name"]
DAYS = EXAMPLE["spec"]["dataSources"]["generator"]["days"]
START = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=DAYS)  # history ends yesterday
SPEC: dict[str, Any] = EXAMPLE["spec"]
GENERATOR = SPEC["dataSources"]["generator"] = {
    **SPEC["dataSources"]["generator"],
    "startDate": START.isoformat(),
}
VALKEY = SPEC["featureStore"]["onlineStore"]
READY_TIMEOUT_S = 1500.0
REPORT: dict[str, Any] = {}


def _report(key: str, value: Any) -> None:
    REPORT[key] = value
    target = os.environ.get("RECSYS_CLUSTER_REPORT")
    if target:
        Path(target).write_text(json.dumps(REPORT, indent=2, sort_keys=True))


def _memory(node: NodeEnv) -> dict[str, float]:
    """MB of the node: its daemons' RSS, its pods' containers (docker stats), the whole machine in use."""
    daemons = (
        "etcd",
        "kube-apiserver",
        "kube-controller",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "dockerd",
        "containerd",
        "dnsmasq",
    )
    ps = subprocess.run(["ps", "-eo", "rss=,comm="], capture_output=True, text=True, check=True).stdout
    rss = sum(int(line.split()[0]) for line in ps.splitlines() if line.split()[1].startswith(daemons)) / 1024
    stats = subprocess.run(
        [str(node.docker_cli), "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DOCKER_HOST": node.docker_host},
    ).stdout
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 2**20}
    pods = 0.0
    for line in stats.splitlines():
        name, usage = line.split(" ", 1)
        value = usage.split("/")[0].strip()
        number = value.rstrip("KMGiB")
        unit = value[len(number) :]
        pods += float(number) * units.get(unit, 1.0) if name.startswith("k8s_") else 0.0
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    used = (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) / 1024
    return {"daemons_mb": round(rss), "pods_mb": round(pods), "machine_used_mb": round(used)}


def _get(node: NodeEnv, kind: str, name: str, namespace: str) -> dict[str, Any]:
    return dict(kubectl_json(node, "get", kind, name, "-n", namespace))


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _apply(node: NodeEnv, namespace: str, manifest: dict[str, Any]) -> None:
    kubectl(node, "apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def _recommender(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "recsys.io/v1alpha1",
        "kind": "RecommenderSystem",
        "metadata": {"name": name},
        "spec": spec,
    }


def _operator_pod(node: NodeEnv) -> dict[str, Any]:
    pods = kubectl_json(
        node, "get", "pods", "-n", OPERATOR_NS, "-l", "app.kubernetes.io/name=recsys-operator"
    )
    live = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 1, [p["metadata"]["name"] for p in pods["items"]]
    return dict(live[0])


def _forbidden_lines(node: NodeEnv) -> list[str]:
    """403s in every operator container's log this session (a restarted one included)."""
    lines = []
    pods = kubectl_json(
        node, "get", "pods", "-n", OPERATOR_NS, "-l", "app.kubernetes.io/name=recsys-operator"
    )
    for pod in pods["items"]:
        log = kubectl(node, "logs", "-n", OPERATOR_NS, pod["metadata"]["name"], check=False).stdout
        lines += [
            line for line in log.splitlines() if " 403" in line or "Forbidden" in line or "forbidden" in line
        ]
    return lines


@pytest.fixture(scope="module")
def operator(node: NodeEnv) -> str:
    """CRDs, then deploy/testbed (deploy/base with local images) as a user applies them."""
    crds = [arg for path in sorted((REPO / "crds").glob("recsys.io_*.yaml")) for arg in ("-f", str(path))]
    kubectl(node, "apply", "--server-side", "--force-conflicts", *crds)
    kubectl(node, "wait", "--for=condition=Established", "--timeout=60s", "crd/recommendersystems.recsys.io")
    # kubectl 1.20's kustomize cannot read the layout (a folder resource): render with a newer one.
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(REPO / "deploy" / "testbed")], capture_output=True, text=True, check=True
    ).stdout
    kubectl(node, "apply", "--server-side", "--force-conflicts", "-f", "-", input=rendered)
    # A rebuilt image has the same tag: restart so the pod runs what `make images` just built.
    kubectl(node, "rollout", "restart", "-n", OPERATOR_NS, "deployment/recsys-operator")
    kubectl(
        node,
        "rollout",
        "status",
        "-n",
        OPERATOR_NS,
        "deployment/recsys-operator",
        "--timeout=180s",
        timeout=200,
    )
    return OPERATOR_NS


@dataclass
class System:
    namespace: str
    uid: str
    phases: list[tuple[float, str, str]] = field(default_factory=list)  # (seconds, Argo status, message)
    peak_memory: dict[str, float] = field(default_factory=dict)  # MB, the largest seen per part
    started: float = field(default_factory=time.monotonic)


def _new_namespace(node: NodeEnv, stem: str) -> str:
    name = f"{stem}-{secrets.token_hex(3)}"
    kubectl(node, "create", "namespace", name)
    return name


@pytest.fixture(scope="module")
def broken(node: NodeEnv, operator: str) -> Iterator[dict[str, str]]:
    """Recommenders that cannot become ready, created early so they progress while the main one trains."""
    light = {
        "featureStore": {"onlineStore": VALKEY},
        "serving": {"replicas": 0, "resources": {"cpu": "10m", "memory": "64Mi"}},
        "api": {"replicas": 0},
        "events": {"replicas": 0},
        "training": {"incrementalSchedule": None},
    }
    cases = {
        # A claim no class can bind, an image no node has, a container that cannot start.
        "waits": {
            **light,
            "training": {"initial": False, "incrementalSchedule": None},
            "serving": {
                "replicas": 1,
                "image": "recsys.local/debian:bookworm",
                "resources": {"cpu": "10m", "memory": "64Mi"},
            },
            "api": {
                "replicas": 1,
                "image": "recsys.local/no-such-image:1",
                "resources": {"cpu": "10m", "memory": "64Mi"},
            },
            "events": {
                "replicas": 1,
                "storageClass": "no-such-class",
                "resources": {"cpu": "10m", "memory": "64Mi"},
            },
        },
        # The default orchestrator with no Kubeflow Pipelines in the cluster (an artifact store
        # named, so that the server's absence is what the run waits on).
        "nokfp": {
            **light,
            "training": {**light["training"], "artifactRoot": "s3://recsys-testbed/artifacts"},
        },
        # A training Job whose first step fails: data that is not there.
        "untrainable": {
            **light,
            "dataSources": {"layout": "seed", "uri": "/no/such/data"},
            "training": {**SPEC["training"], "resources": {"cpu": "50m", "memory": "2Gi"}},
        },
    }
    namespaces = {}
    for name, spec in cases.items():
        namespaces[name] = _new_namespace(node, f"broken-{name}")
        _apply(node, namespaces[name], _recommender(name, spec))
    yield namespaces
    for namespace in namespaces.values():
        kubectl(node, "delete", "namespace", namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def system(node: NodeEnv, operator: str, broken: dict[str, str]) -> Iterator[System]:
    namespace = _new_namespace(node, "cluster-system")
    _apply(node, namespace, _recommender(NAME, SPEC))
    uid = _get(node, "recsys", NAME, namespace)["metadata"]["uid"]
    try:
        yield System(namespace, uid)
    finally:
        kubectl(node, "delete", "namespace", namespace, "--wait=false", check=False)


def test_the_operator_runs_non_root_read_only_under_its_service_account(node: NodeEnv, operator: str) -> None:
    pod = _operator_pod(node)
    assert pod["spec"]["serviceAccountName"] == "recsys-operator"
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["imagePullPolicy"] == "Never"
    name = pod["metadata"]["name"]
    probe = "import os, getpass; print(os.getuid(), getpass.getuser())\ntry:\n    open('/x', 'w')\nexcept OSError as e:\n    print(e.strerror)"
    said = kubectl(node, "exec", "-n", OPERATOR_NS, name, "--", "python", "-c", probe).stdout.split("\n")
    assert said[0] == "65532 recsys"
    assert said[1] == "Read-only file system"
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    assert restarts == 0, kubectl(node, "logs", "-n", OPERATOR_NS, name, "--previous", check=False).stdout[
        -3000:
    ]


def test_the_recommender_becomes_ready_with_every_workload_running_and_trained_by_a_job(
    node: NodeEnv, system: System
) -> None:
    def ready() -> bool:
        for part, mb in _memory(node).items():  # training happens in here: its peak too
            system.peak_memory[part] = max(mb, system.peak_memory.get(part, 0.0))
        obj = _get(node, "recsys", NAME, system.namespace)
        verdict = health(REPO, "RecommenderSystem", obj)
        if not system.phases or system.phases[-1][1:] != (verdict["status"], verdict["message"]):
            system.phases.append(
                (round(time.monotonic() - system.started, 1), verdict["status"], verdict["message"])
            )
        return _conditions(obj).get("Ready", {}).get("status") == "True"

    until("Ready=True", ready, READY_TIMEOUT_S, interval_s=3)
    seconds = time.monotonic() - system.started
    _report("time_to_ready_s", round(seconds, 1))
    _report("phases", system.phases)
    _report("memory_at_ready", _memory(node))
    _report("memory_peak_until_ready", system.peak_memory)
    statuses = [status for _, status, _ in system.phases]
    assert statuses[0] == "Progressing" and statuses[-1] == "Healthy"
    assert "Degraded" not in statuses

    pods = kubectl_json(node, "get", "pods", "-n", system.namespace)["items"]
    running = {
        p["metadata"]["labels"].get("app.kubernetes.io/component")
        for p in pods
        if p["status"].get("phase") == "Running"
        and all(c.get("ready") for c in p["status"].get("containerStatuses", []))
    }
    assert {"valkey", "triton", "api", "events"} <= running
    (run,) = kubectl_json(node, "get", "trainingruns", "-n", system.namespace)["items"]
    assert (run["spec"]["type"], run["status"]["state"]) == ("Initial", "SUCCEEDED")
    assert run["status"]["metrics"]["recallAtK"] > 0
    job = _get(node, "job", run["status"]["kfpRunId"], system.namespace)
    assert job["status"]["succeeded"] == 1
    assert job["metadata"]["ownerReferences"][0]["name"] == run["metadata"]["name"]
    log = kubectl(node, "logs", "-n", system.namespace, f"job/{job['metadata']['name']}").stdout
    for step in (
        "[prepare_data] finished",
        "[train_two_tower] finished",
        "[export_model] published version 1",
    ):
        assert step in log
    assert health(REPO, "TrainingRun", run)["status"] == "Healthy"
    obj = _get(node, "recsys", NAME, system.namespace)
    assert obj["status"]["model"]["currentVersion"] == 1


def _users() -> list[str]:
    """Registered users of the generated shop (the generator is deterministic by its config)."""
    world = build_world(
        GeneratorConfig(
            users=GENERATOR["users"],
            interactions=GENERATOR["interactions"],
            days=DAYS,
            images=False,
            start_date=START,
        )
    )
    visitors = world[1].visitors
    return [str(v) for v in visitors.visitor_ids[~visitors.anonymous][:20]]


def _post(port: int, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def test_homepages_for_a_registered_an_anonymous_and_a_new_user(node: NodeEnv, system: System) -> None:
    user = _users()[0]
    with port_forward(node, system.namespace, f"svc/{NAME}-api", 8080) as port:
        registered = _post(port, "/v1/recommendations", {"user_id": user, "num_items": 8})
        anonymous = _post(port, "/v1/recommendations", {"session_id": "anon-cluster-test", "num_items": 8})
        new = _post(port, "/v1/recommendations", {"user_id": "new-cluster-user", "num_items": 8})
    for answer in (registered, anonymous, new):
        assert answer["source"] == "triton" and not answer["fallback"]
        assert len(answer["item_ids"]) == 8 and len(set(answer["item_ids"])) == 8
    assert registered["cold_start"] is False
    assert anonymous["cold_start"] is True and new["cold_start"] is True


def test_a_click_takes_the_item_off_the_next_homepage(node: NodeEnv, system: System) -> None:
    user = _users()[1]
    with port_forward(node, system.namespace, f"svc/{NAME}-api", 8080) as api:
        before = _post(api, "/v1/recommendations", {"user_id": user, "num_items": 8})["item_ids"]
        clicked = before[0]
        with port_forward(node, system.namespace, f"svc/{NAME}-events", 8081) as events:
            event = {
                "event_id": f"click-{secrets.token_hex(4)}",
                "user_id": user,
                "item_id": clicked,
                "event_type": "View",
            }
            accepted = _post(events, "/events", event)
        assert accepted["accepted"] == 1, accepted

        def gone() -> list[str] | None:
            after = _post(api, "/v1/recommendations", {"user_id": user, "num_items": 8})["item_ids"]
            return after if clicked not in after else None

        after = until(f"{clicked} to leave the homepage", gone, 10, interval_s=0.5)
    assert len(after) == 8


def _load_pod(node: NodeEnv, namespace: str, name: str, seconds: int, workers: int = 2) -> None:
    script = (Path(__file__).parent / "load.py").read_text()
    url = f"http://{NAME}-api.{namespace}.svc.cluster.local:8080/v1/recommendations"
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
            "containers": [
                {
                    "name": "load",
                    "image": node.base_image,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-c", script, url, str(seconds), str(workers), *_users()],
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                }
            ],
        },
    }
    _apply(node, namespace, manifest)
    kubectl(node, "wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}", "--timeout=60s")


def _load_result(node: NodeEnv, namespace: str, name: str, timeout_s: float) -> dict[str, Any]:
    def finished() -> bool:
        return _get(node, "pod", name, namespace)["status"].get("phase") in ("Succeeded", "Failed")

    until(f"load pod {name} to finish", finished, timeout_s, interval_s=2)
    log = kubectl(node, "logs", "-n", namespace, name).stdout
    line = next(line for line in log.splitlines() if line.startswith("LOAD "))
    result: dict[str, Any] = json.loads(line.removeprefix("LOAD "))
    return result


def test_an_incremental_run_rolls_out_under_load_without_a_failed_request(
    node: NodeEnv, system: System
) -> None:
    _load_pod(node, system.namespace, "load-rollout", seconds=600)
    started = time.monotonic()
    run = {
        "apiVersion": "recsys.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "shop-incremental-1"},
        # Fine-tune on day 2, evaluate on day 3: the event log of a few minutes holds no new day.
        "spec": {
            "recommenderRef": {"name": NAME},
            "type": "Incremental",
            "parameters": {"newDays": "[2]", "evalDay": "3"},
        },
    }
    _apply(node, system.namespace, run)

    def switched() -> bool:
        return bool(
            _get(node, "recsys", NAME, system.namespace)["status"]["model"].get("currentVersion") == 2
        )

    until("version 2 to serve", switched, 900, interval_s=3)
    _report("incremental_run_to_serving_s", round(time.monotonic() - started, 1))
    time.sleep(10)  # requests after the switch count too
    result = _stop_load(node, system.namespace, "load-rollout")
    _report("rollout_load", {k: result[k] for k in ("requests", "ok", "fallback", "failed")})
    _report("memory_after_rollout", _memory(node))
    assert result["requests"] > 100
    assert result["failed"] == 0, result["first_failures"]
    done = _get(node, "trainingrun", "shop-incremental-1", system.namespace)
    assert done["status"]["state"] == "SUCCEEDED" and done["status"]["modelVersions"] == {"homepage": 2}


def _stop_load(node: NodeEnv, namespace: str, name: str) -> dict[str, Any]:
    """End a load pod early (SIGTERM to its process, which then prints its summary) and read it."""
    kill = "import os, signal; os.kill(1, signal.SIGTERM)"
    kubectl(node, "exec", "-n", namespace, name, "--", "python3", "-c", kill)
    return _load_result(node, namespace, name, 60)


def _template_serves(node: NodeEnv, system: System) -> bool:
    version = _get(node, "recsys", NAME, system.namespace)["status"]["model"].get("currentVersion")
    template = _get(node, "deployment", f"{NAME}-triton", system.namespace)["spec"]["template"]
    return bool(template["metadata"]["annotations"].get("recsys.io/model-version") == str(version))


def _fresh_pods_ready(node: NodeEnv, namespace: str, selector: str, victims: list[str], desired: int) -> bool:
    """At least `desired` Ready pods of the selector that are not the deleted ones (told apart by
    uid: a StatefulSet's replacement has the old pod's name)."""
    pods = kubectl_json(node, "get", "pods", "-n", namespace, "-l", selector)["items"]
    fresh = [
        p for p in pods if p["metadata"]["uid"] not in victims and not p["metadata"].get("deletionTimestamp")
    ]
    ready = [p for p in fresh if all(c.get("ready") for c in p["status"].get("containerStatuses") or [{}])]
    return len(ready) >= desired


def _victims(node: NodeEnv, system: System, component: str) -> tuple[str, str, list[dict[str, Any]], int]:
    """(namespace, selector, pods to delete, pods that must be Ready again) of one component."""
    if component == "operator":
        return OPERATOR_NS, "app.kubernetes.io/name=recsys-operator", [_operator_pod(node)], 1
    selector = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component={component}"
    pods = kubectl_json(node, "get", "pods", "-n", system.namespace, "-l", selector)["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    # One pod: with two API replicas, the Service keeps sending to the other.
    return system.namespace, selector, live[:1], 2 if component == "api" else 1


@pytest.mark.parametrize("component", ["triton", "valkey", "api", "operator"])
def test_a_deleted_pod_is_replaced_under_load(node: NodeEnv, system: System, component: str) -> None:
    load = f"load-{component}"
    # A version switch rolls the Triton Deployment (the operator writes the new version into its
    # template on its next pass): disrupt a settled system, not a rollout.
    until("the Triton template to name the serving version", lambda: _template_serves(node, system), 120)
    for workload in (f"deployment/{NAME}-triton", f"deployment/{NAME}-api", f"statefulset/{NAME}-valkey"):
        kubectl(node, "rollout", "status", "-n", system.namespace, workload, "--timeout=300s", timeout=320)
    until("Ready=True", lambda: _ready(node, system), 300)
    _load_pod(node, system.namespace, load, seconds=300)
    time.sleep(5)  # a baseline before the disruption
    namespace, selector, pods, desired = _victims(node, system, component)
    victims = [p["metadata"]["uid"] for p in pods]
    began = time.monotonic()
    kubectl(node, "delete", "pod", "-n", namespace, *(p["metadata"]["name"] for p in pods), "--wait=false")
    until(
        f"{component} to serve again",
        lambda: _fresh_pods_ready(node, namespace, selector, victims, desired),
        240,
        interval_s=1,
    )
    recovery = round(time.monotonic() - began, 1)
    time.sleep(10)  # and some requests after it
    result = _stop_load(node, system.namespace, load)
    figures = {k: result[k] for k in ("requests", "ok", "fallback", "failed")} | {"recovery_s": recovery}
    _report(f"delete_{component}", figures)
    assert result["requests"] > 50
    # Triton down: the API answers from popularity. Valkey down: Triton serves without the seen
    # filter. One API pod down: the Service sends everything to the other. The operator is not on
    # the request path at all. None of them may cost a request.
    assert result["failed"] == 0, (figures, result["first_failures"])
    if component == "triton":
        assert result["fallback"] > 0, figures
    until("Ready=True again", lambda: _ready(node, system), 120)
    assert _get(node, "recsys", NAME, system.namespace)["status"]["model"]["currentVersion"] == 2


def _ready(node: NodeEnv, system: System) -> bool:
    return bool(
        _conditions(_get(node, "recsys", NAME, system.namespace)).get("Ready", {}).get("status") == "True"
    )


def test_every_dependency_a_recommender_waits_on_is_in_its_status(
    node: NodeEnv, broken: dict[str, str]
) -> None:
    def condition(case: str, type_: str, reasons: set[str]) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            got = _conditions(_get(node, "recsys", case, broken[case])).get(type_, {})
            return got if got.get("reason") in reasons else None

        return dict(until(f"{case} {type_} in {reasons}", found, 300, interval_s=2))

    claim = condition("waits", "EventServiceReady", {"StorageClassNotFound"})
    assert "StorageClass 'no-such-class' does not exist" in claim["message"] and claim["status"] == "False"
    pull = condition("waits", "ApiReady", {"ErrImagePull", "ImagePullBackOff"})
    assert "recsys.local/no-such-image:1" in pull["message"]
    crash = condition(
        "waits", "ServingReady", {"RunContainerError", "CrashLoopBackOff", "CreateContainerError"}
    )
    assert "render-repository" in crash["message"]
    assert _conditions(_get(node, "recsys", "waits", broken["waits"]))["Ready"]["status"] == "False"

    index = condition("nokfp", "IndexReady", {"TrainingNotStarted"})
    assert "PipelinesUnreachable" in index["message"] and "ml-pipeline.kubeflow" in index["message"]
    run = _get(node, "trainingrun", "nokfp-initial", broken["nokfp"])
    created = _conditions(run)["Created"]
    assert (created["status"], created["reason"]) == ("False", "PipelinesUnreachable")
    assert health(REPO, "TrainingRun", run)["status"] == "Progressing"

    failed = condition("untrainable", "IndexReady", {"TrainingFailed"})
    assert "/no/such/data" in failed["message"]
    run = _get(node, "trainingrun", "untrainable-initial", broken["untrainable"])
    assert run["status"]["state"] == "FAILED" and run["status"]["failedStep"] == "prepare-data"
    assert _conditions(run)["Failed"]["message"].startswith("step prepare-data:")
    assert health(REPO, "TrainingRun", run)["status"] == "Degraded"
    log = kubectl(node, "logs", "-n", broken["untrainable"], f"job/{run['status']['kfpRunId']}").stdout
    assert "/no/such/data" in log


def test_kubectl_shows_what_the_daily_questions_need(node: NodeEnv, system: System) -> None:
    ns = ["-n", system.namespace]
    wide = kubectl(node, "get", "recsys,tr", "-o", "wide", *ns).stdout
    assert "READY" in wide and "SERVING" in wide and "RECALL@K" in wide
    assert (
        f"recommendersystem.recsys.io/{NAME}" in wide and "trainingrun.recsys.io/shop-incremental-1" in wide
    )
    one = kubectl(node, "get", "recsys", NAME, *ns)
    assert one.stdout.splitlines()[1].split()[0] == NAME
    both = kubectl(node, "get", CATEGORY, "-o", "name", *ns).stdout
    assert f"recommendersystem.recsys.io/{NAME}" in both and "trainingrun.recsys.io/shop-initial" in both
    described = kubectl(node, "describe", "recsys", NAME, *ns).stdout
    assert "Conditions:" in described and "AllComponentsReady" in described
    explained = kubectl(node, "explain", "recommendersystem.spec.training.orchestrator").stdout
    assert "one Kubernetes Job" in explained
    _report("kubectl_get_wide", wide)


def test_deleting_the_recommender_collects_every_child(node: NodeEnv, system: System) -> None:
    kubectl(node, "delete", "recsys", NAME, "-n", system.namespace, "--timeout=120s", timeout=150)
    selector = f"app.kubernetes.io/instance={NAME}"
    kinds = "deployments,statefulsets,services,configmaps,persistentvolumeclaims,networkpolicies,jobs,pods"

    def collected() -> bool:
        left = kubectl(
            node, "get", kinds, "-n", system.namespace, "-l", selector, "-o", "name"
        ).stdout.split()
        runs = kubectl(node, "get", "trainingruns", "-n", system.namespace, "-o", "name").stdout.split()
        return not left and not runs

    until("every child to be garbage-collected", collected, 180, interval_s=2)
    assert kubectl(node, "get", "pvc", "-n", system.namespace, "-o", "name").stdout.split() == []


def test_the_operator_never_hit_a_403(node: NodeEnv, operator: str) -> None:
    """Run last: the whole module ran under exactly the ClusterRole in deploy/base."""
    assert _forbidden_lines(node) == []
