#!/usr/bin/env bash
# Images no registry can give this machine, made from Debian's archive alone and imported into
# the test bed's dockerd (docker.sh start first):
#   recsys.local/debian:bookworm  mmdebstrap minbase + python3, venv, libpython: the Dockerfile's base here
#   recsys.local/valkey:7.0       Debian's redis-server (Valkey-compatible, no Bloom module): the
#                                 stand-in for a provisioned Valkey (valkey/valkey-bundle is not reachable)
#   recsys.local/pause:3.4.1      the pod sandbox, the static pause binary scripts/kube/build.sh compiles
# Root file systems are cached in $IMAGES_DIR; each step is skipped when its output exists.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
mkdir -p "$IMAGES_DIR"
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install mmdebstrap (make cluster installs it)"
docker_cli info >/dev/null 2>&1 || die "the test bed's dockerd is not running: scripts/cluster/docker.sh start"

# This machine's own Debian mirror (a dated snapshot: hence the two Check-* options).
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || die "no Debian mirror in /etc/apt/sources.list{,.d/*.sources}"

rootfs() {  # name packages
  local tar=$IMAGES_DIR/$1.tar partial=$IMAGES_DIR/.partial-$1.tar  # mmdebstrap picks tar by the suffix
  [ -f "$tar" ] && return 0
  echo "== mmdebstrap $1 (bookworm minbase + $2)"
  nice -n 10 mmdebstrap --quiet --variant=minbase --include="$2" \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Check-Date "false"' \
    bookworm "$partial" "$MIRROR" </dev/null
  mv "$partial" "$tar"
}

has() { docker_cli image inspect "$1" >/dev/null 2>&1; }

rootfs debian-bookworm python3,python3-venv,libpython3.11,ca-certificates
has "$BASE_IMAGE" || docker_cli import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' "$IMAGES_DIR/debian-bookworm.tar" "$BASE_IMAGE" >/dev/null

rootfs valkey-standin redis-server
has "$VALKEY_IMAGE" || docker_cli import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'WORKDIR /data' --change 'EXPOSE 6379' \
  --change 'ENTRYPOINT ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]' \
  "$IMAGES_DIR/valkey-standin.tar" "$VALKEY_IMAGE" >/dev/null

if ! has "$PAUSE_IMAGE"; then
  [ -x "$KUBE_BIN/pause" ] || die "no pause binary in $KUBE_BIN: run make kube"
  tmp=$(mktemp -d)
  cp "$KUBE_BIN/pause" "$tmp/pause"
  tar -C "$tmp" -cf "$tmp/pause.tar" pause
  docker_cli import --change 'ENTRYPOINT ["/pause"]' "$tmp/pause.tar" "$PAUSE_IMAGE" >/dev/null
  rm -rf "$tmp"
fi
docker_cli image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^recsys.local/'
