#!/usr/bin/env bash
# End to end on a real cluster: a kind cluster, the operator image built from this tree and
# installed from deploy/base (its own ServiceAccount and least-privilege RBAC), the sample
# RecommenderSystem from deploy/samples, then tests/integration/kube/test_system.py, the same
# checks the default suite runs against the loopback kube-apiserver 1.20, pointed at kind.
#
# Needs docker, kind, kubectl and a Python with the project's `operator` extra plus pytest
# ($PYTHON, default .venv/bin/python). The development machine has no Docker, so this runs in
# .github/workflows/e2e-kind.yaml and on laptops only (docs/kubernetes-testing.md).
#
#   KIND_NODE_IMAGE  node image, e.g. kindest/node:v1.32.2 (default: the kind release's own)
#   KIND_CLUSTER     cluster name (default recsys-e2e)
#   KEEP_CLUSTER=1   leave the cluster running afterwards (to look around)
#   E2E_DIR          kubeconfig and diagnostics (default: a new temporary folder)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
CLUSTER=${KIND_CLUSTER:-recsys-e2e}
NODE_IMAGE=${KIND_NODE_IMAGE:-}
PYTHON=${PYTHON:-.venv/bin/python}
E2E_DIR=${E2E_DIR:-$(mktemp -d)}
OPERATOR_IMAGE=ghcr.io/recsys-operator/operator:0.1.0  # what deploy/base/kustomization.yaml names
SAMPLE_NAMESPACE=recsys-demo
mkdir -p "$E2E_DIR"
# Our own kubeconfig: never the user's current context.
export KUBECONFIG="$E2E_DIR/kubeconfig"

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is required on PATH" >&2; exit 2; }
done
test -x "$PYTHON" || { echo "kind.sh: no Python at $PYTHON (set PYTHON)" >&2; exit 2; }

diagnostics() {
  local out="$E2E_DIR/diagnostics"
  mkdir -p "$out"
  kubectl get recsys,tr,all,pvc,networkpolicies -A -o wide >"$out/objects.txt" 2>&1 || true
  kubectl get recsys -A -o yaml >"$out/recommendersystems.yaml" 2>&1 || true
  kubectl get events -A --sort-by=.lastTimestamp >"$out/events.txt" 2>&1 || true
  kubectl -n recsys-system logs deployment/recsys-operator --tail=2000 >"$out/operator.log" 2>&1 || true
  echo "kind.sh: diagnostics in $out" >&2
}

finish() {
  local status=$?
  if [ "$status" -ne 0 ]; then diagnostics; fi
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
  exit "$status"
}
trap finish EXIT

echo "== kind cluster $CLUSTER ${NODE_IMAGE:-(default node image)}"
kind create cluster --name "$CLUSTER" ${NODE_IMAGE:+--image "$NODE_IMAGE"} --wait 180s
kubectl version

echo "== operator image"
docker build --target operator -t "$OPERATOR_IMAGE" .
kind load docker-image "$OPERATOR_IMAGE" --name "$CLUSTER"

echo "== deploy/base"
# Server-side apply: no last-applied annotation, whose 256 KiB limit large CRDs can exceed.
kubectl kustomize deploy/base | kubectl apply --server-side -f -
kubectl wait --for=condition=Established --timeout=60s \
  crd/recommendersystems.recsys.io crd/trainingruns.recsys.io
kubectl -n recsys-system rollout status deployment/recsys-operator --timeout=180s

echo "== deploy/samples in $SAMPLE_NAMESPACE"
kubectl create namespace "$SAMPLE_NAMESPACE"
kubectl apply -n "$SAMPLE_NAMESPACE" -k deploy/samples
# Reconciled under the operator's own RBAC: the online config is published...
kubectl -n "$SAMPLE_NAMESPACE" wait --for=condition=FiltersReady --timeout=180s recommendersystem/homepage
# ...and, with a kubelet, the provisioned Valkey pod really starts.
kubectl -n "$SAMPLE_NAMESPACE" wait --for=condition=FeatureStoreReady --timeout=300s recommendersystem/homepage
kubectl get recsys,tr -A -o wide

echo "== shared checks (tests/integration/kube/test_system.py)"
RECSYS_E2E_KUBECONFIG="$KUBECONFIG" "$PYTHON" -m pytest tests/integration/kube/test_system.py -p no:cacheprovider -q
echo "== kind e2e passed"
