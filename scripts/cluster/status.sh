#!/usr/bin/env bash
# Where the single-node cluster stands: each component's process, then the node and its pods.
# Exit 0 when every component runs and the node is Ready, 1 otherwise.
set -uo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ok=1
for c in $COMPONENTS; do
  if [ "$c" = dockerd ]; then
    docker_cli info >/dev/null 2>&1 && state=running || state=stopped
  elif alive "$c"; then state="running (pid $(pid_of "$c"))"
  elif [ -f "$PIDS/$c.pid" ]; then state="DEAD (log: $LOGS/$c.log)"
  else state=stopped
  fi
  case $state in running*) ;; *) ok=0 ;; esac
  printf '%-20s %s\n' "$c" "$state"
done
if [ "$ok" = 1 ]; then
  echo
  kubectl_admin get nodes -o wide && kubectl_admin get pods -A -o wide || ok=0
  echo
  echo "export KUBECONFIG=$KUBECONFIG_ADMIN"
fi
[ "$ok" = 1 ]
