#!/usr/bin/env bash
# The Docker engine the node and `make images` use: Debian's dockerd, started by us with its own
# data root, exec root and socket (never the machine's default /var/run/docker.sock), no bridge and
# no iptables rules of its own (pods use CNI; builds use the host network), and an unreachable
# proxy so that any pull fails at once on loopback: no registry can be reached from here.
#
#   docker.sh start   start it if it is not running (idempotent); prints DOCKER_HOST
#   docker.sh stop    stop it
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PIDFILE=$RUN_DIR/dockerd.pid

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  command -v dockerd >/dev/null || die "no Docker engine (dockerd): apt-get install docker.io containerd runc (make cluster installs them)"
  [ -x "$DOCKER" ] || die "no Docker 20.10 CLI at $DOCKER: apt-get install docker.io"
  if running; then
    docker_cli info >/dev/null 2>&1 && { echo "dockerd running (DOCKER_HOST=$DOCKER_HOST_URL)"; return 0; }
  fi
  mkdir -p "$RUN_DIR" "$DOCKER_ROOT" "$CLUSTER_DIR/logs"
  rm -f "$PIDFILE" "$DOCKER_SOCK"
  env HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost \
    nohup dockerd --data-root="$DOCKER_ROOT" --exec-root="$RUN_DIR/docker" --host="$DOCKER_HOST_URL" \
      --pidfile="$RUN_DIR/dockerd.own.pid" --bridge=none --iptables=false --ip-forward=false \
      --ip-masq=false --storage-driver=overlay2 --log-level=warn \
      >> "$CLUSTER_DIR/logs/dockerd.log" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 120); do
    docker_cli info >/dev/null 2>&1 && { echo "dockerd started (DOCKER_HOST=$DOCKER_HOST_URL)"; return 0; }
    running || break
    sleep 0.5
  done
  tail -n 20 "$CLUSTER_DIR/logs/dockerd.log" >&2 || true
  die "dockerd did not answer on $DOCKER_SOCK (log: $CLUSTER_DIR/logs/dockerd.log)"
}

stop() {
  running || { rm -rf "$RUN_DIR"; return 0; }
  local pid
  pid=$(cat "$PIDFILE")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  # dockerd's own containerd and mounts under the exec root
  for m in $(awk -v p="^$RUN_DIR(/|\$)" '$2 ~ p {print $2}' /proc/mounts | sort -r); do umount "$m" 2>/dev/null || true; done
  rm -rf "$RUN_DIR"
  echo "dockerd stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: docker.sh start|stop" ;;
esac
