"""The node itself: pods run from local images, storage, networking, DNS, port-forward, guards.

What the operator's workloads rely on, checked on their own first, so a failure further on
is the product's and not the test bed's.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest

from recsys_local.testbed.node import NodeEnv, kubectl, kubectl_json, port_forward
from recsys_local.testbed.wait import until

PYTHON_POD = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  restartPolicy: Never
  securityContext: {{runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000}}
  containers:
    - name: main
      image: {image}
      imagePullPolicy: Never
      command: [python3, -c, {code}]
      securityContext: {{readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}
      volumeMounts: [{{name: shared, mountPath: /shared}}]
  volumes: [{{name: shared, persistentVolumeClaim: {{claimName: shared}}}}]
"""

CLAIM = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec: {accessModes: [ReadWriteMany], storageClassName: efs-sc, resources: {requests: {storage: 1Gi}}}
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]}
"""

WEB = "import http.server as h, os; os.chdir('/shared'); h.HTTPServer(('', 8080), h.SimpleHTTPRequestHandler).serve_forever()"


def _pod(node: NodeEnv, namespace: str, name: str, code: str) -> None:
    manifest = PYTHON_POD.format(name=name, image=node.base_image, code=json.dumps(code))
    kubectl(node, "apply", "-n", namespace, "-f", "-", input=manifest)


def _phase(node: NodeEnv, namespace: str, name: str) -> str:
    return str(kubectl_json(node, "get", "pod", name, "-n", namespace)["status"].get("phase", ""))


def _finished(node: NodeEnv, namespace: str, name: str, timeout_s: float = 90.0) -> str:
    phase = until(
        f"pod {name} to finish",
        lambda: (p := _phase(node, namespace, name)) in ("Succeeded", "Failed") and p,
        timeout_s,
    )
    return str(phase)


def test_the_node_is_kubernetes_1_20_with_docker(node: NodeEnv) -> None:
    info = kubectl_json(node, "get", "node", node.node_name)["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.20.2"
    assert info["containerRuntimeVersion"].startswith("docker://")


def test_pods_share_a_read_write_many_volume_and_reach_each_other_by_dns(
    node: NodeEnv, namespace: str
) -> None:
    kubectl(node, "apply", "-n", namespace, "-f", "-", input=CLAIM + "---" + SERVICE)
    _pod(node, namespace, "writer", "open('/shared/hello', 'w').write('from writer')")
    assert _finished(node, namespace, "writer") == "Succeeded"
    claim = kubectl_json(node, "get", "pvc", "shared", "-n", namespace)
    assert claim["status"]["phase"] == "Bound"
    assert claim["status"]["accessModes"] == ["ReadWriteMany"]

    # A second pod (uid 1000, read-only root) serves the file the first one wrote.
    _pod(node, namespace, "web", WEB)
    kubectl(node, "wait", "-n", namespace, "--for=condition=Ready", "pod/web", "--timeout=60s")
    fetch = (
        "import urllib.request, sys; "
        f"print(urllib.request.urlopen('http://web.{namespace}.svc.cluster.local/hello', timeout=5).read().decode())"
    )
    # DNS records follow Services within a couple of seconds: retry the client a few times.
    for attempt in range(5):
        _pod(node, namespace, f"reader-{attempt}", fetch)
        if _finished(node, namespace, f"reader-{attempt}") == "Succeeded":
            break
        time.sleep(2)
    logs = kubectl(node, "logs", "-n", namespace, f"reader-{attempt}").stdout
    assert logs.strip() == "from writer"


def test_port_forward_on_loopback_reaches_a_pod(node: NodeEnv, namespace: str) -> None:
    kubectl(node, "apply", "-n", namespace, "-f", "-", input=CLAIM + "---" + SERVICE)
    _pod(node, namespace, "web", "open('/shared/ping', 'w').write('pong'); " + WEB)
    kubectl(node, "wait", "-n", namespace, "--for=condition=Ready", "pod/web", "--timeout=60s")
    with port_forward(node, namespace, "svc/web", 80) as port:

        def fetched() -> bytes | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    return bytes(response.read())
            except OSError:
                return None

        assert until("the port-forward", fetched, 30) == b"pong"


def test_nothing_a_pod_sends_leaves_the_machine(node: NodeEnv, namespace: str) -> None:
    kubectl(node, "apply", "-n", namespace, "-f", "-", input=CLAIM)
    # TEST-NET-1 is never local: a connection there must be dropped by the guard, not answered.
    _pod(
        node,
        namespace,
        "escape",
        "import socket\ntry:\n    socket.create_connection(('192.0.2.99', 80), timeout=3)\n"
        "    print('CONNECTED')\nexcept OSError as e:\n    print('blocked', type(e).__name__)",
    )
    assert _finished(node, namespace, "escape") == "Succeeded"
    assert kubectl(node, "logs", "-n", namespace, "escape").stdout.startswith("blocked")
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, check=True).stdout
    assert f"--comment {node.iptables_tag} -j DROP" in rules


def test_an_image_that_is_not_on_the_node_fails_at_once_without_a_registry(
    node: NodeEnv, namespace: str
) -> None:
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec: {containers: [{name: main, image: "example.org/not-here:1"}]}
"""
    kubectl(node, "apply", "-n", namespace, "-f", "-", input=manifest)

    def waiting() -> dict[str, str] | None:
        statuses = kubectl_json(node, "get", "pod", "missing", "-n", namespace)["status"].get(
            "containerStatuses"
        )
        state = (statuses or [{}])[0].get("state", {}).get("waiting") or {}
        return state if state.get("reason") in ("ErrImagePull", "ImagePullBackOff") else None

    state = until("ErrImagePull", waiting, 60)
    assert "127.0.0.1:9" in state.get("message", "") or state["reason"] == "ImagePullBackOff"


@pytest.mark.parametrize("klass", ["standard", "efs-sc"])
def test_both_storage_classes_use_folders_on_this_machine(node: NodeEnv, klass: str) -> None:
    found = kubectl_json(node, "get", "storageclass", klass)
    assert found["provisioner"] == "recsys.io/host-folder"
    default = found["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
    assert (default == "true") == (klass == "standard")
