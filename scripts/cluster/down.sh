#!/usr/bin/env bash
# Remove the single-node cluster: every process up.sh started (dockerd included), the pods'
# containers, every iptables rule and chain of kube-proxy, kubelet, CNI and our guards, the
# bridge and its route, the cluster state (etcd, PKI, volumes) and the saved sysctls restored.
# What stays: the caches (Kubernetes binaries, root file systems, dockerd's images), so the next
# `make cluster` and `make images` are quick. Safe to run any number of times.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
[ "$(id -u)" = 0 ] || die "run as root"

stop() {
  local pid
  pid=$(pid_of "$1") || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null && sleep 0.2
    echo "stopped $1 ($pid)"
  fi
  rm -f "$PIDS/$1.pid"
}

# Node first, so nothing restarts the pods' containers while they are removed.
stop kube-proxy
stop kubelet
if docker_cli info >/dev/null 2>&1; then
  ids=$(docker_cli ps -aq --filter name=k8s_)
  [ -z "$ids" ] || { docker_cli rm -f $ids >/dev/null && echo "removed $(echo "$ids" | wc -w) pod containers"; }
fi
for c in dnsmasq dns-sync provisioner scheduler controller-manager apiserver etcd; do stop "$c"; done

# kube-proxy removes its own rules; kubelet's and CNI's chains and our tagged guards go by name.
[ -x "$KUBE_BIN/kube-proxy" ] && "$KUBE_BIN/kube-proxy" --cleanup >/dev/null 2>&1
for cmd in iptables ip6tables; do
  command -v "$cmd" >/dev/null || continue
  for table in filter nat mangle; do
    "$cmd" -t "$table" -S 2>/dev/null | grep -E -- "^-A .*(-j (KUBE-|CNI-)|--comment \"?$TAG)" | sed 's/^-A /-D /' |
      while read -r rule; do eval "$cmd -t $table $rule" 2>/dev/null; done
    chains=$("$cmd" -t "$table" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}')
    for chain in $chains; do "$cmd" -t "$table" -F "$chain" 2>/dev/null; done
    for chain in $chains; do "$cmd" -t "$table" -X "$chain" 2>/dev/null; done
  done
done

if ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip route del "$SVC_CIDR" dev "$BRIDGE" 2>/dev/null
  ip link set "$BRIDGE" down && ip link del "$BRIDGE" && echo "removed bridge $BRIDGE"
fi
if [ -f "$S/sysctl.saved" ]; then
  while IFS= read -r setting; do sysctl -qw "$setting" 2>/dev/null; done < "$S/sysctl.saved"
fi

"$HERE/docker.sh" stop

if [ -d "$S" ]; then
  for m in $(awk -v p="^$S/" '$2 ~ p {print $2}' /proc/mounts | sort -r); do umount "$m" 2>/dev/null || umount -l "$m"; done
  rm -rf "$S" && echo "removed $S"
fi
echo "cluster down (caches kept in $CLUSTER_DIR and $KUBE_BIN)"
