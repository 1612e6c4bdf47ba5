#!/usr/bin/env bash
# The cluster's locations as KEY=VALUE lines, for programs that are not shell scripts
# (recsys_local.testbed.node reads them): one declaration of each, in common.sh.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cat <<ENV
KUBECONFIG=$KUBECONFIG_ADMIN
KUBE_BIN=$KUBE_BIN
CLUSTER_DIR=$CLUSTER_DIR
STATE_DIR=$S
LOGS_DIR=$LOGS
VOLUMES_DIR=$VOLUMES
DOCKER_HOST=$DOCKER_HOST_URL
DOCKER_CLI=$DOCKER
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
BRIDGE=$BRIDGE
IPTABLES_TAG=$TAG
BASE_IMAGE=$BASE_IMAGE
VALKEY_IMAGE=$VALKEY_IMAGE
ENV
