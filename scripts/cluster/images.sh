#!/usr/bin/env bash
# The project's images for the test bed, built from the Dockerfile by the test bed's dockerd on
# the Debian base that base-images.sh makes (no registry: nothing is pulled), tagged with the
# names the CRD defaults and deploy/base use. The serving image takes Triton from PyPI's
# nvidia-pytriton (TRITON_FROM=pypi): the binary local mode runs, for CPUs.
#
#   images.sh PYTHON [TARGET...]   PYTHON runs `-m recsys_workloads.contracts.images` (the names);
#                                  TARGETs default to operator workloads serving
# The classic builder is used (DOCKER_BUILDKIT=0): BuildKit would pull its Dockerfile frontend.
# Layers are cached in dockerd's data root, so a rebuild after a source change takes seconds
# to minutes; the first build of all three takes the longest (docs/benchmarks.md).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=common.sh
. "$HERE/common.sh"
PYTHON=${1:?usage: images.sh PYTHON [TARGET...]}
shift
TARGETS=${*:-operator workloads serving}
T0=$(date +%s)

"$HERE/docker.sh" start >/dev/null
"$HERE/base-images.sh" >/dev/null

# wheelhouse/: what pip in the build stages needs besides PyPI (see wheelhouse/README.md).
WH=$ROOT/wheelhouse
find "$WH" -mindepth 1 ! -name README.md -delete
{
  echo "[global]"
  echo "find-links = /src/wheelhouse"
  # This machine's trusted roots: on a network that intercepts TLS the build must trust the same CA.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$WH/ca-certificates.crt"
    echo "cert = /src/wheelhouse/ca-certificates.crt"
  fi
} > "$WH/pip.conf"
# Pinned local builds (`torch==2.13.0+cpu`) are on no index pip reaches from a build: take the
# wheel from this machine's find-links folders, or say where a `+cpu` build comes from.
for pin in $(grep -E '^[A-Za-z0-9_.-]+==[^ ]+\+[a-z0-9]+$' "$ROOT/constraints/main.txt" || true); do
  name=${pin%%==*}; version=${pin#*==}
  found=""
  for dir in $(echo "${PIP_FIND_LINKS:-} $(pip config get global.find-links 2>/dev/null || true)" | tr ' ' '\n' | sort -u); do
    for whl in "$dir/${name//-/_}-${version}-"*.whl "$dir/${name}-${version}-"*.whl; do
      [ -f "$whl" ] && { found=$whl; break 2; }
    done
  done
  if [ -n "$found" ]; then
    ln -f "$found" "$WH/" 2>/dev/null || cp "$found" "$WH/"
    say "wheelhouse: $(basename "$found")"
  elif [[ $version == *+cpu ]]; then
    echo "extra-index-url = https://download.pytorch.org/whl/cpu" >> "$WH/pip.conf"
    say "wheelhouse: $pin from download.pytorch.org/whl/cpu"
  fi
done

declare -A NAME
while IFS='=' read -r target image; do NAME[$target]=$image; done < <("$PYTHON" -m recsys_workloads.contracts.images)

build() {  # target tag log
  DOCKER_BUILDKIT=0 docker_cli build --network host --target "$1" \
    --build-arg PYTHON_IMAGE="$BASE_IMAGE" --build-arg TRITON_IMAGE="$BASE_IMAGE" --build-arg TRITON_FROM=pypi \
    -t "$2" "$ROOT" >> "$3" 2>&1 || { tail -n 30 "$3" >&2; die "building $1 failed (log: $3)"; }
}
for target in $TARGETS; do
  image=${NAME[$target]:-}
  [ -n "$image" ] || die "unknown image target $target (known: ${!NAME[*]})"
  log=$CLUSTER_DIR/logs/image-$target.log
  : > "$log"
  say "building $target -> $image"
  # The venv stage gets a tag of its own (from the same cached steps): the prune below then
  # keeps it, so the next build reuses the installed dependencies.
  build "$target-venv" "recsys.local/build-cache:$target-venv" "$log"
  build "$target" "$image" "$log"
  say "built $image ($(docker_cli image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'))"
done
# Layers no tag needs any more (earlier builds of the same tags): the data root would grow by
# gigabytes per dependency change otherwise.
docker_cli image prune -f >/dev/null
