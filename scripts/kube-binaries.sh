#!/usr/bin/env bash
# Provides kube-apiserver, kube-controller-manager, etcd and kubectl for the real-cluster tests, the way
# envtest does, and prints the folder that holds them.
#
#   1. KUBEBUILDER_ASSETS, when set, names a folder that already has them.
#   2. Otherwise the cache folder (CRDSTACK_CACHE, default ~/.cache/crdstack) from an earlier run.
#   3. Otherwise, on Debian, they are built from Debian's own packages: the `kubernetes` source package
#      (1.20) compiled with Debian's Go, plus the etcd-server package.
#   Anywhere else it stops and says how to get them.
set -euo pipefail

need=(kube-apiserver kube-controller-manager etcd kubectl)

has_all() {
  local dir=$1 bin
  for bin in "${need[@]}"; do [ -x "$dir/$bin" ] || return 1; done
}

log() { echo "kube-binaries: $*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if has_all "$KUBEBUILDER_ASSETS"; then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${need[*]}"
  exit 1
fi

cache=${CRDSTACK_CACHE:-$HOME/.cache/crdstack}/kube-1.20
if has_all "$cache"; then echo "$cache"; exit 0; fi

if ! command -v apt-get >/dev/null 2>&1 || ! grep -qi debian /etc/os-release 2>/dev/null; then
  cat >&2 <<'MSG'
kube-binaries: no control-plane binaries found, and this is not Debian, so they cannot be built here.
Set KUBEBUILDER_ASSETS to a folder holding kube-apiserver, kube-controller-manager, etcd and kubectl:
  - kube-apiserver, etcd: `go run sigs.k8s.io/controller-runtime/tools/setup-envtest@latest use -p path`
  - kube-controller-manager: from a Kubernetes source tree of the same minor version,
    `make WHAT=cmd/kube-controller-manager` (the binary lands in _output/bin/)
  - kubectl: any package manager (`brew install kubectl`)
See the README, "Tests against a real control plane".
MSG
  exit 1
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

log "building into $cache (about 5 minutes on 2 cores; later runs reuse it)"
# deb-src twins of the configured Debian sources, so `apt-get source` finds the kubernetes package.
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  case "$f" in *-src.sources) continue ;; esac
  grep -q '^Types: deb$' "$f" || continue
  sed 's/^Types: deb$/Types: deb-src/' "$f" | $sudo tee "${f%.sources}-src.sources" >/dev/null
done
if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
  grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' | $sudo tee /etc/apt/sources.list.d/crdstack-src.list >/dev/null
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  golang-go etcd-server golang-github-modern-go-reflect2-dev rsync dpkg-dev make \
  >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source --download-only -qq kubernetes >/dev/null && dpkg-source -x --no-check ./kubernetes_*.dsc src >/dev/null)

gopath="$work/go"
tree="$gopath/src/k8s.io/kubernetes"
mkdir -p "$(dirname "$tree")"
mv "$work/src" "$tree"
# reflect2 1.0.1 (vendored) crashes with Go >= 1.18 (`fatal error: fault` in map iteration): use Debian's 1.0.2.
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -rL /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"

export GOPATH="$gopath" GO111MODULE=off GOFLAGS="" GOCACHE="$work/gocache"
(cd "$tree" && make generated_files >/dev/null 2>&1) || { log "make generated_files failed"; exit 1; }
mkdir -p "$cache.tmp"
for cmd in kube-apiserver kube-controller-manager kubectl; do
  log "go build $cmd"
  (cd "$tree" && go build -o "$cache.tmp/$cmd" "./cmd/$cmd")
done
ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$cache.tmp/etcd"
rm -rf "$cache" && mv "$cache.tmp" "$cache"
log "ready in $cache"
echo "$cache"
