#!/bin/bash
# Build Kubernetes v1.20.2 (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl) and take etcd 3.4.23 for the operator's test beds, using ONLY Debian
# bookworm's archive: the source package "kubernetes" (full upstream 1.20.2 tree with vendor/),
# golang-1.19, etcd-server. The pod-less API server layer (tests/integration/kube) uses the first
# two; the single-node cluster (scripts/cluster, `make cluster`) uses all of them.
# No Docker, no downloads from outside the Debian archive, nothing installed system-wide.
#
# Usage: scripts/kube/build.sh [CACHE_DIR]     (--stamp: print what a finished build writes in the stamp)
#   CACHE_DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/recsys-operator/kube-1.20.2
#   Binaries land in CACHE_DIR/bin; CACHE_DIR/bin/.stamp marks a finished build (idempotent).
#   RECSYS_KUBE_KEEP_WORK=1 keeps the 3 GB source tree and toolchain after a successful build
#   (otherwise only bin/, ~230 MB, stays). A failed build keeps everything for inspection.
# kubelet is patched first (kubelet-oom.patch beside this script): these machines lack
# CAP_SYS_RESOURCE, so the negative oom_score_adj kubelet gives pod sandboxes is refused by runc.
# Cold build: see docs/kubernetes-testing.md; ~3 GB of disk while building.
set -euo pipefail

K8S_SRC_VERSION=1.20.5+really1.20.2-1.1+deb12u1
K8S_ORIG_TARBALL=kubernetes_1.20.5+really1.20.2.orig.tar.gz
K8S_TREE=kubernetes-1.20.2
COMMANDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
STAMP_CONTENT="kubernetes ${K8S_SRC_VERSION} (reflect2 1.0.2, json-iterator 1.1.12, kubelet-oom.patch): ${COMMANDS}, pause; etcd-server from bookworm"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

W=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/recsys-operator/kube-1.20.2}
BIN=$W/bin
STAMP=$BIN/.stamp

die() { echo "scripts/kube/build.sh: error: $*" >&2; exit 1; }

if [ "${1:-}" = --stamp ]; then echo "$STAMP_CONTENT"; exit 0; fi  # what a finished build writes
built() {  # the stamp of THIS build (an older one built fewer commands) and every binary
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_CONTENT" ] || return 1
  for c in $COMMANDS etcd pause; do [ -x "$BIN/$c" ] || return 1; done
}
if built; then
  echo "kube 1.20.2 already built in $BIN"
  exit 0
fi

[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (got $(uname -m))"
for tool in apt-get dpkg tar gzip make find flock patch gcc strip; do
  command -v "$tool" >/dev/null || die "'$tool' is missing; on Debian: apt-get install -y apt dpkg tar gzip make findutils util-linux patch gcc libc6-dev binutils"
done
{ [ -f /etc/apt/sources.list ] || compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; } \
  || die "no apt sources found (/etc/apt/sources.list{,.d/*.sources}); this build needs a Debian bookworm archive"

mkdir -p "$W"
# One build at a time per cache dir (two pytest sessions or two make runs may race).
exec 9>"$W/.lock"
flock 9
if built; then echo "kube 1.20.2 was built by a concurrent run in $BIN"; exit 0; fi

started=$(date +%s)
mkdir -p "$W/apt/lists/partial" "$W/apt/cache/archives/partial" "$W/apt/sources.list.d" \
  "$W/debs" "$W/root/wbin" "$W/src" "$BIN" "$W/home"

# Reuse this machine's Debian sources in a private apt state dir, adding deb-src entries
# (apt-get source needs them; the system's apt configuration is left untouched).
: > "$W/apt/sources.list"
rm -f "$W/apt/sources.list.d/"*.sources
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sed 's/^Types: deb$/Types: deb deb-src/' "$f" > "$W/apt/sources.list.d/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  grep '^deb ' /etc/apt/sources.list | sed 'p;s/^deb /deb-src /' > "$W/apt/sources.list" || true
fi
APT=(apt-get -o "Dir::Etc::SourceList=$W/apt/sources.list" -o "Dir::Etc::SourceParts=$W/apt/sources.list.d"
     -o "Dir::State::Lists=$W/apt/lists" -o "Dir::Cache=$W/apt/cache")
echo "== apt-get update (private state in $W/apt)"
"${APT[@]}" update -qq || die "apt-get update failed (is the Debian archive reachable?)"

echo "== fetching source package kubernetes=$K8S_SRC_VERSION"
cd "$W/src"
if [ ! -f "$K8S_ORIG_TARBALL" ]; then
  "${APT[@]}" source --download-only "kubernetes=$K8S_SRC_VERSION" 2>&1 | grep -v '^W:' || true
fi
[ -f "$K8S_ORIG_TARBALL" ] || die "apt-get source did not produce $K8S_ORIG_TARBALL (needs deb-src for bookworm-security)"
rm -rf "$K8S_TREE"
tar xzf "$K8S_ORIG_TARBALL"
K=$W/src/$K8S_TREE
[ -d "$K/vendor" ] || die "$K has no vendor/ tree"

echo "== fetching Go 1.19, etcd, rsync and the replacement Go libraries (.deb, unpacked privately)"
cd "$W/debs"
rm -f ./*.deb
"${APT[@]}" download golang-1.19-go golang-1.19-src etcd-server rsync libpopt0 \
  golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev 2>&1 | grep -v '^W:' || true
for pkg in golang-1.19-go golang-1.19-src etcd-server rsync libpopt0 \
           golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev; do
  ls "${pkg}"_*.deb >/dev/null 2>&1 || die "apt-get download did not fetch $pkg"
done
for d in ./*.deb; do dpkg -x "$d" "$W/root"; done

# Go >= 1.18 + vendored reflect2 v1.0.1 => "fatal error: fault ... UnsafeIterate" at the first
# custom-resource write. Swap in Debian's reflect2 1.0.2 and json-iterator 1.1.12 (what k8s 1.23 did).
V=$K/vendor/github.com
rm -rf "$V/modern-go/reflect2" "$V/json-iterator/go"
cp -r "$W/root/usr/share/gocode/src/github.com/modern-go/reflect2" "$V/modern-go/"
cp -r "$W/root/usr/share/gocode/src/github.com/json-iterator/go" "$V/json-iterator/"
find "$V/modern-go/reflect2" "$V/json-iterator/go" -name '*_test.go' -delete

# k8s' make copies generated code with rsync; use Debian's, unpacked privately.
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/root/lib/x86_64-linux-gnu:%s/root/usr/lib/x86_64-linux-gnu exec %s/root/usr/bin/rsync "$@"\n' \
  "$W" "$W" "$W" > "$W/root/wbin/rsync"
chmod +x "$W/root/wbin/rsync"

export GOROOT=$W/root/usr/lib/go-1.19 GOPATH=$W/gopath GOCACHE=$W/gocache HOME=$W/home
export PATH=$GOROOT/bin:$W/root/wbin:$PATH GOPROXY=off GOSUMDB=off GOFLAGS= CGO_ENABLED=0
[ -x "$GOROOT/bin/go" ] || die "Go 1.19 not found at $GOROOT after unpacking golang-1.19-go"

patch -d "$K" -p1 --forward < "$HERE/kubelet-oom.patch" || die "kubelet-oom.patch did not apply to $K"
WHAT=$(for c in $COMMANDS; do printf 'cmd/%s ' "$c"; done)
echo "== make WHAT='$WHAT' (plain go build lacks generated OpenAPI code)"
cd "$K"
nice -n 10 make WHAT="$WHAT" || die "kubernetes make failed; the tree is kept in $K"
for c in $COMMANDS; do install -m 0755 "_output/bin/$c" "$BIN/"; done
install -m 0755 "$W/root/usr/bin/etcd" "$BIN/"
# The pod sandbox ("pause") image's only file: no registry to pull k8s.gcr.io/pause from.
gcc -Os -Wall -Werror -static -DVERSION=v3.4.1-recsys -o "$BIN/pause" build/pause/linux/pause.c \
  || die "gcc could not build the pause binary statically (apt-get install gcc libc6-dev)"
strip "$BIN/pause"
"$BIN/kube-apiserver" --version
"$BIN/etcd" --version | awk 'NR == 1'  # not head: etcd's SIGPIPE would fail the pipeline
echo "$STAMP_CONTENT" > "$STAMP"

if [ "${RECSYS_KUBE_KEEP_WORK:-0}" != 1 ]; then
  # The binaries are static: the 3 GB tree, the unpacked toolchain and apt state can go.
  chmod -R u+w "$W/gopath" 2>/dev/null || true
  rm -rf "$W/src" "$W/gopath" "$W/gocache" "$W/home" "$W/root" "$W/debs" "$W/apt"
fi
echo "== built in $(( $(date +%s) - started ))s: $BIN"
