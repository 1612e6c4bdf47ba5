#!/usr/bin/env bash
# Bring up a real single-node Kubernetes 1.20.2 on this machine (kubelet with dockershim on the
# test bed's own dockerd). Idempotent: a running cluster is left as it is. Every check that can
# fail is made before anything starts, with what to do. Stop with down.sh.
#
# Components (logs in $S/logs, pids in $S/pids): dockerd (docker.sh), etcd 3.4 on loopback,
# kube-apiserver, kube-controller-manager, kube-scheduler, node_agent.py volumes (the
# StorageClasses' provisioner), node_agent.py dns + dnsmasq (cluster DNS), kubelet (CNI bridge
# networking from Debian's containernetworking-plugins), kube-proxy (iptables mode).
# The API server, kubelet and DNS listen on the node IP, which lives on the pod bridge: nothing
# listens on the machine's outside interfaces, and iptables guards drop pod traffic that would
# leave the machine.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
T0=$(date +%s)
CLUSTER_PROCESSES=${COMPONENTS#dockerd }

# --- checks before anything starts ---------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (it creates a bridge, iptables rules and mounts)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (got $(uname -m))"
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl etcd pause; do
  [ -x "$KUBE_BIN/$c" ] || die "$KUBE_BIN/$c is missing: run make kube (builds Kubernetes 1.20.2 from Debian's source package)"
done
for tool in dockerd iptables ip socat conntrack dnsmasq openssl python3 nsenter; do
  command -v "$tool" >/dev/null || die "'$tool' is missing: make cluster installs docker.io containerd runc iptables iproute2 socat conntrack dnsmasq-base openssl util-linux"
done
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] \
  || die "CNI plugins are missing in /usr/lib/cni: apt-get install containernetworking-plugins"

running=""; stopped=""
for c in $CLUSTER_PROCESSES; do
  if alive "$c"; then running="$running $c"; elif [ -f "$PIDS/$c.pid" ]; then stopped="$stopped $c"; fi
done
if [ -n "$running" ] && [ -z "$stopped" ] && [ "$running" = " $CLUSTER_PROCESSES" ]; then
  echo "the cluster is already running (KUBECONFIG=$KUBECONFIG_ADMIN)"
  exit 0
fi
if [ -n "$running$stopped" ] || [ -d "$S/etcd" ]; then
  die "a cluster from an earlier run is left in $S (running:${running:- none}; stopped:${stopped:- none}).
  Remove it first: make cluster-down (or recsys cluster down), then make cluster."
fi

mkdir -p "$CLUSTER_DIR"
free_gb=$(df -P -BG "$CLUSTER_DIR" | awk 'NR == 2 {sub("G", "", $4); print $4}')
[ "$free_gb" -ge "$MIN_FREE_GB" ] || die "only ${free_gb} GB free under $CLUSTER_DIR; the cluster and its images need ${MIN_FREE_GB} GB (set RECSYS_CLUSTER_DIR to a bigger disk, or free space)"

if ip link show "$BRIDGE" >/dev/null 2>&1; then
  die "a network bridge $BRIDGE already exists (from an earlier run, or another tool): make cluster-down removes ours"
fi
if ip -4 -o addr | grep -q " $NODE_IP/" || [ -n "$(ip -4 route show "$POD_CIDR" 2>/dev/null)" ]; then
  die "$NODE_IP or a route to $POD_CIDR already exists on this machine: set RECSYS_CLUSTER_POD_CIDR and RECSYS_CLUSTER_NODE_IP to a free range"
fi
if iptables -t nat -S KUBE-SERVICES >/dev/null 2>&1; then
  die "iptables already holds Kubernetes rules (chain KUBE-SERVICES): another cluster runs here, or an earlier one was not removed. Stop it (make cluster-down removes ours)."
fi
busy=""
for port in "$API_PORT" "$KUBELET_PORT" 10248 10249 10256 10257 10259 53 "${ETCD_CLIENT##*:}" "${ETCD_PEER##*:}" "${ETCD_METRICS##*:}"; do
  line=$(ss -Hltnup "sport = :$port" 2>/dev/null | head -n 1)
  # Only listeners that would clash: on our addresses or on all addresses.
  if [ -n "$line" ] && echo "$line" | grep -Eq "(\*|0\.0\.0\.0|\[::\]|127\.0\.0\.1|$NODE_IP):$port "; then
    busy="$busy\n  port $port: $(echo "$line" | grep -o 'users:(([^)]*' | head -n 1 | sed 's/users:((//')"
  fi
done
[ -z "$busy" ] || die "ports the cluster needs are in use:$(printf '%b' "$busy")
  Stop those processes (or another cluster) first."
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null \
  || die "the kernel has no br_netfilter (net.bridge.bridge-nf-call-iptables): kube-proxy needs it"

# --- host network ---------------------------------------------------------------------------
mkdir -p "$LOGS" "$PIDS" "$S/dns" "$S/kubelet" "$S/cni/net.d" "$S/cni/cache" "$S/cni/ipam" "$VOLUMES"
# What down restores.
for key in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables; do
  echo "$key=$(sysctl -n "$key")"
done > "$S/sysctl.saved"
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Service IPs never go to the default gateway: an unmatched ClusterIP stays on the bridge.
ip route replace "$SVC_CIDR" dev "$BRIDGE" src "$NODE_IP"
guard() { iptables -C "$@" -m comment --comment "$TAG" 2>/dev/null || iptables -I "$@" -m comment --comment "$TAG"; }
# Pods may talk to each other, to services and to this machine; nothing they send leaves it.
guard FORWARD 1 -s "$POD_CIDR" ! -o "$BRIDGE" -j DROP
guard FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
cat > "$S/cni/net.d/10-recsys.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "recsys",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$S/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
CNI
say "bridge $BRIDGE $NODE_IP, guards in FORWARD"

# --- images the node needs --------------------------------------------------------------------
"$HERE/docker.sh" start
"$HERE/base-images.sh" >/dev/null
say "dockerd and base images ready"

start() {  # name command...
  local name=$1; shift
  nohup "$@" >> "$LOGS/$name.log" 2>&1 &
  echo $! > "$PIDS/$name.pid"
}
wait_for() {  # what seconds command...
  local what=$1 seconds=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 20 "$LOGS"/*.log >&2 || true
      die "$what not ready after ${seconds} s (logs in $LOGS; make cluster-down cleans up)"
    fi
    sleep 0.5
  done
  say "$what ready"
}

"$HERE/pki.sh"

# --- control plane ----------------------------------------------------------------------------
start etcd "$KUBE_BIN/etcd" --name recsys --data-dir "$S/etcd" \
  --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
  --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
  --initial-cluster "recsys=http://$ETCD_PEER" --listen-metrics-urls "http://$ETCD_METRICS"
wait_for etcd 60 curl -sf "http://$ETCD_CLIENT/health"

start apiserver "$KUBE_BIN/kube-apiserver" --etcd-servers="http://$ETCD_CLIENT" \
  --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$API_PORT" --insecure-port=0 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
  --token-auth-file="$PKI/tokens.csv" --authorization-mode=Node,RBAC \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer="https://kubernetes.default.svc.$DOMAIN" \
  --service-cluster-ip-range="$SVC_CIDR" --allow-privileged=true --enable-admission-plugins=NodeRestriction \
  --kubelet-client-certificate="$PKI/kubelet-client.crt" --kubelet-client-key="$PKI/kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname --profiling=false
wait_for kube-apiserver 90 kubectl_admin get --raw /readyz

# Two classes on the same provisioner: `standard` (the default) and `efs-sc`, the name the
# RecommenderSystem's ReadWriteMany volumes default to on EKS. Both are folders on this machine.
kubectl_admin apply -f - >/dev/null <<SC
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: recsys.io/host-folder
reclaimPolicy: Delete
volumeBindingMode: Immediate
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: efs-sc
  annotations: {recsys.io/stands-in-for: "efs.csi.aws.com (ReadWriteMany): a folder on this machine"}
provisioner: recsys.io/host-folder
reclaimPolicy: Delete
volumeBindingMode: Immediate
SC

start controller-manager "$KUBE_BIN/kube-controller-manager" --kubeconfig="$S/kcm.kubeconfig" \
  --authentication-kubeconfig="$S/kcm.kubeconfig" --authorization-kubeconfig="$S/kcm.kubeconfig" \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" --use-service-account-credentials=true \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SVC_CIDR" --cluster-cidr="$POD_CIDR" --allocate-node-cidrs=false \
  --leader-elect=false --bind-address=127.0.0.1 --port=0 --profiling=false
start scheduler "$KUBE_BIN/kube-scheduler" --kubeconfig="$S/scheduler.kubeconfig" \
  --authentication-kubeconfig="$S/scheduler.kubeconfig" --authorization-kubeconfig="$S/scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1 --port=0 --profiling=false

AGENT_ENV=(env "RECSYS_CLUSTER_STATE=$S" "RECSYS_CLUSTER_API=https://$NODE_IP:$API_PORT" "RECSYS_CLUSTER_DOMAIN=$DOMAIN")
start provisioner "${AGENT_ENV[@]}" /usr/bin/python3 "$HERE/node_agent.py" volumes
start dns-sync "${AGENT_ENV[@]}" /usr/bin/python3 "$HERE/node_agent.py" dns
start dnsmasq "$(command -v dnsmasq)" --keep-in-foreground --no-resolv --no-hosts --no-poll --user=root \
  --listen-address="$NODE_IP" --bind-interfaces --port=53 --hostsdir="$S/dns" \
  --local="/$DOMAIN/" --domain-needed --no-negcache --log-facility=- --pid-file="$S/dnsmasq.pidfile"

# --- node ---------------------------------------------------------------------------------------
start kubelet "$KUBE_BIN/kubelet" --kubeconfig="$S/kubelet.kubeconfig" --hostname-override="$NODE_NAME" \
  --container-runtime=docker --docker-endpoint="$DOCKER_HOST_URL" --pod-infra-container-image="$PAUSE_IMAGE" \
  --network-plugin=cni --cni-bin-dir=/usr/lib/cni --cni-conf-dir="$S/cni/net.d" --cni-cache-dir="$S/cni/cache" \
  --cgroup-driver="$(docker_cli info -f '{{.CgroupDriver}}')" --fail-swap-on=false --oom-score-adj=0 \
  --node-ip="$NODE_IP" --address="$NODE_IP" --port="$KUBELET_PORT" --read-only-port=0 --healthz-bind-address=127.0.0.1 \
  --anonymous-auth=false --client-ca-file="$PKI/ca.crt" --authentication-token-webhook --authorization-mode=Webhook \
  --root-dir="$S/kubelet" --cert-dir="$S/kubelet/pki" --volume-plugin-dir="$S/kubelet-plugins" \
  --experimental-dockershim-root-directory="$S/dockershim" --cluster-dns="$NODE_IP" --cluster-domain="$DOMAIN" \
  --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
  --eviction-hard='memory.available<200Mi,nodefs.available<3%,imagefs.available<3%' \
  --serialize-image-pulls=false --max-pods=60
start kube-proxy "$KUBE_BIN/kube-proxy" --kubeconfig="$S/kube-proxy.kubeconfig" --hostname-override="$NODE_NAME" \
  --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --bind-address="$NODE_IP" --nodeport-addresses="$NODE_IP/32" \
  --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249 --oom-score-adj=0 \
  --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0

node_ready() {
  [ "$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
wait_for "node $NODE_NAME" 120 node_ready
wait_for "default service account" 60 kubectl_admin get serviceaccount default -n default
say "cluster up: export KUBECONFIG=$KUBECONFIG_ADMIN"
