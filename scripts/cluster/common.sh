# Shared settings and helpers of the single-node test cluster (sourced, not run).
# Every value can be overridden from the environment; docs/kubernetes-testing.md explains them.
# shellcheck shell=bash

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/recsys-operator
KUBE_BIN=${RECSYS_KUBE_BIN:-$CACHE/kube-1.20.2/bin}
CLUSTER_DIR=${RECSYS_CLUSTER_DIR:-$CACHE/cluster}
IMAGES_DIR=$CLUSTER_DIR/images          # root file systems from mmdebstrap (kept by down)
DOCKER_ROOT=$CLUSTER_DIR/docker         # dockerd's data root: built images survive down/up
S=$CLUSTER_DIR/state                    # everything else; removed by down
PKI=$S/pki
LOGS=$S/logs
PIDS=$S/pids
VOLUMES=$S/volumes                      # the StorageClasses' volumes: real folders
KUBECONFIG_ADMIN=$S/admin.kubeconfig
RUN_DIR=/run/recsys-cluster               # dockerd's exec root and socket (runtime only)
DOCKER_SOCK=$RUN_DIR/docker.sock
DOCKER_HOST_URL=unix://$DOCKER_SOCK
# The 20.10 CLI from Debian's docker.io (another docker on PATH may default to BuildKit).
DOCKER=${RECSYS_DOCKER_CLI:-/usr/bin/docker}

BRIDGE=${RECSYS_CLUSTER_BRIDGE:-recsys0}
NODE_IP=${RECSYS_CLUSTER_NODE_IP:-10.244.0.1}
POD_CIDR=${RECSYS_CLUSTER_POD_CIDR:-10.244.0.0/16}
SVC_CIDR=${RECSYS_CLUSTER_SVC_CIDR:-10.96.0.0/16}
KUBERNETES_SVC_IP=${RECSYS_CLUSTER_KUBERNETES_IP:-10.96.0.1}
API_PORT=6443
ETCD_CLIENT=127.0.0.1:12379
ETCD_PEER=127.0.0.1:12380
ETCD_METRICS=127.0.0.1:12381
KUBELET_PORT=10250
NODE_NAME=${RECSYS_CLUSTER_NODE:-recsys-node}
DOMAIN=cluster.local
MIN_FREE_GB=${RECSYS_CLUSTER_MIN_FREE_GB:-15}
# Every iptables rule the scripts add carries this comment, so down removes exactly those.
TAG=recsys-cluster

# Images the node needs that no registry can give it (scripts/cluster/images.sh makes them).
BASE_IMAGE=recsys.local/debian:bookworm
PAUSE_IMAGE=recsys.local/pause:3.4.1
VALKEY_IMAGE=recsys.local/valkey:7.0

# The components up.sh starts, in start order (down stops them in reverse).
COMPONENTS="dockerd etcd apiserver controller-manager scheduler provisioner dns-sync dnsmasq kubelet kube-proxy"

die() { echo "recsys cluster: error: $*" >&2; exit 1; }
say() { printf '%6ss %s\n' "$(( $(date +%s) - ${T0:-$(date +%s)} ))" "$*"; }
docker_cli() { DOCKER_HOST=$DOCKER_HOST_URL "$DOCKER" "$@"; }
kubectl_admin() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
pid_of() { [ -f "$PIDS/$1.pid" ] && cat "$PIDS/$1.pid"; }
alive() { local p; p=$(pid_of "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
