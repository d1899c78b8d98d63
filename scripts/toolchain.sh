#!/usr/bin/env bash
# Provides everything the real-engine tests need and prints it as `export NAME=value` lines:
#
#   eval "$(bash scripts/toolchain.sh)"
#
#   CRDSTACK_PULUMI_BIN   pulumi (the version of @pulumi/pulumi in package-lock.json) and pulumi-language-nodejs
#   PULUMI_HOME           a Pulumi home of its own whose plugin cache holds pulumi-resource-kubernetes, at the
#                         version of @pulumi/kubernetes, so no plugin is ever downloaded
#   CRDSTACK_KUBE_BIN     kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd and kwok
#
# Each part comes from, in this order: an override variable naming an existing install
# (CRDSTACK_PULUMI_BIN, CRDSTACK_KUBERNETES_PROVIDER for a pulumi-resource-kubernetes binary,
# CRDSTACK_KUBE_BIN; CRDSTACK_PULUMI_HOME moves the Pulumi home); the cache (CRDSTACK_CACHE, default
# ~/.cache/crdstack) keyed by version; or a build from the Go module proxy with Go 1.26 or later. What
# each build takes, and at which version, is pinned by the go.mod and go.sum in scripts/toolchain/<part>/.
# Progress goes to stderr, one line per part with its time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
modules="$root/scripts/toolchain"
cache=${CRDSTACK_CACHE:-$HOME/.cache/crdstack}
mkdir -p "$cache"

log() { echo "toolchain: $*" >&2; }
die() { log "$*"; exit 1; }

# The version a go.mod requires of a module.
required() { awk -v m="$2" '$1 == m || ($1 == "require" && $2 == m) { print $NF; exit }' "$modules/$1/go.mod"; }
# The version package-lock.json installs of an npm package.
locked() { node -p "require('$root/package-lock.json').packages['node_modules/$1'].version"; }

has_all() {
  local dir=$1; shift
  local bin
  for bin in "$@"; do [ -x "$dir/$bin" ] || return 1; done
}

# Runs a build into "$dir.tmp" and moves it to "$dir" only when it succeeded, with one line and its time.
# Go 1.26 or later: the etcd and kwok modules ask for it.
check_go() {
  command -v go >/dev/null || die "building $1 needs Go 1.26 or later (https://go.dev/dl), or an install named by an override variable (see README)"
  local version minor
  version=$(go env GOVERSION)
  minor=${version#go1.}; minor=${minor%%[.a-z]*}
  [ "${version#go1.}" != "$version" ] && [ "$minor" -ge 26 ] 2>/dev/null ||
    [ "$(go env GOTOOLCHAIN)" != local ] ||
    die "building $1 needs Go 1.26 or later; this is $version with GOTOOLCHAIN=local (install a newer Go, or set GOTOOLCHAIN=auto to let go fetch one)"
}

build() {
  local what=$1 dir=$2; shift 2
  check_go "$what"
  local started=$SECONDS
  log "building $what into $dir"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  if ! "$@" "$dir.tmp" >&2; then rm -rf "$dir.tmp"; die "building $what failed (output above)"; fi
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  log "$what built in $((SECONDS - started))s"
}

# `go build` in one of the modules of scripts/toolchain, static and without local paths.
gobuild() {
  local module=$1 out=$2 ldflags=$3; shift 3
  (cd "$modules/$module" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "-s -w $ldflags" -o "$out/" "$@")
}

# --- pulumi and pulumi-language-nodejs --------------------------------------------------------------
pulumi_version=$(locked @pulumi/pulumi)
[ "v$pulumi_version" = "$(required pulumi github.com/pulumi/pulumi/pkg/v3)" ] ||
  die "@pulumi/pulumi is $pulumi_version in package-lock.json but scripts/toolchain/pulumi/go.mod builds $(required pulumi github.com/pulumi/pulumi/pkg/v3): make them agree"

# The language host's own module is not served by the module proxy (every version answers 403), so it
# comes from the last sdk/v3 release that shipped it (scripts/toolchain/language-nodejs/tools.go).
host_version=$(required language-nodejs github.com/pulumi/pulumi/sdk/v3)
stamp() { echo "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$1"; }
build_pulumi() {
  gobuild pulumi "$1" "$(stamp "v$pulumi_version")" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi &&
    gobuild language-nodejs "$1" "$(stamp "$host_version")" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
}

started=$SECONDS
if [ -n "${CRDSTACK_PULUMI_BIN:-}" ]; then
  has_all "$CRDSTACK_PULUMI_BIN" pulumi pulumi-language-nodejs || die "CRDSTACK_PULUMI_BIN=$CRDSTACK_PULUMI_BIN lacks pulumi or pulumi-language-nodejs"
  pulumi_bin=$CRDSTACK_PULUMI_BIN
else
  pulumi_bin="$cache/pulumi-v$pulumi_version-nodejs-$host_version"
  has_all "$pulumi_bin" pulumi pulumi-language-nodejs || build "pulumi v$pulumi_version" "$pulumi_bin" build_pulumi
fi
log "pulumi: $("$pulumi_bin/pulumi" version) in $pulumi_bin ($((SECONDS - started))s)"

# --- pulumi-resource-kubernetes, installed into a Pulumi home of its own ----------------------------
provider_version=$(locked @pulumi/kubernetes)

provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4
provider_commit=$(required kubernetes-provider $provider_module)
# The provider module has no tags, and the proxy serves only some of its commits: this one (2026-01-15)
# is the one before the v4.25.0 release tag, with the same schema as the 4.25.0 npm package.
provider_release=4.25.0
[ "$provider_version" = "$provider_release" ] ||
  die "@pulumi/kubernetes is $provider_version in package-lock.json but scripts/toolchain/kubernetes-provider builds $provider_release: make them agree"
# The module's hash, pinned: the checksum database does not know this pseudo-version.
provider_sum="h1:j2bphCf7c2YhnBrhwht2f3TNRRgcMImltUlAgzxr9H4="

# The provider's main package embeds two generated files that its module zip lacks: copy the module
# next to a copy of scripts/toolchain/kubernetes-provider (whose go.mod points there), generate them
# with the provider's own generate.go, and build.
build_provider() (
  out=$1
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp "$modules/kubernetes-provider/"{go.mod,go.sum,tools.go} "$work/" &&
    info=$(cd "$work" && GONOSUMDB=$provider_module go mod download -json "$provider_module@$provider_commit") || return 1
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")
  sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$info")
  [ "$sum" = "$provider_sum" ] || { log "$provider_module@$provider_commit has hash $sum, expected $provider_sum"; return 1; }
  cp -r "$dir" "$work/provider-src" && chmod -R u+w "$work/provider-src" &&
    (cd "$work/provider-src/cmd/pulumi-resource-kubernetes" && VERSION=$provider_version GONOSUMDB=github.com/pulumi GOFLAGS="-mod=mod -buildvcs=false" go run generate.go) &&
    (cd "$work" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath \
      -ldflags "-s -w -X $provider_module/pkg/version.Version=$provider_version" -o "$out/" "$provider_module/cmd/pulumi-resource-kubernetes")
)

started=$SECONDS
if [ -n "${CRDSTACK_KUBERNETES_PROVIDER:-}" ]; then
  [ -x "$CRDSTACK_KUBERNETES_PROVIDER" ] || die "CRDSTACK_KUBERNETES_PROVIDER=$CRDSTACK_KUBERNETES_PROVIDER is not an executable"
  provider=$CRDSTACK_KUBERNETES_PROVIDER
else
  provider_dir="$cache/pulumi-kubernetes-v$provider_version-$provider_commit"
  has_all "$provider_dir" pulumi-resource-kubernetes || build "pulumi-resource-kubernetes v$provider_version" "$provider_dir" build_provider
  provider="$provider_dir/pulumi-resource-kubernetes"
fi
home=${CRDSTACK_PULUMI_HOME:-"$cache/pulumi-home"}
# Installed again whenever the binary differs from the one installed (another build, an override).
if ! cmp -s "$provider" "$home/plugins/resource-kubernetes-v$provider_version/pulumi-resource-kubernetes"; then
  PULUMI_HOME=$home PULUMI_SKIP_UPDATE_CHECK=true "$pulumi_bin/pulumi" plugin install resource kubernetes "$provider_version" --file "$provider" --reinstall >&2
fi
log "pulumi-resource-kubernetes: v$provider_version in $home ($((SECONDS - started))s)"

# --- Kubernetes, etcd, kwok -----------------------------------------------------------------------
kube_version=$(required kube k8s.io/kubernetes)
etcd_version=$(required etcd go.etcd.io/etcd/server/v3)
kwok_version=$(required kwok sigs.k8s.io/kwok)
kube_tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)

# Every step of a build is chained with &&: `build` runs it as an `if` condition, where `set -e` is off.
build_kube() {
  local minor=${kube_version#v1.}; minor=${minor%%.*}
  local v stamp=""
  # Stamped like a release: the Kubernetes provider reads the server version and treats v0.0.0 as old.
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X $v.gitVersion=$kube_version -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  done
  gobuild kube "$1" "$stamp" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}
build_etcd() { gobuild etcd "$1" "" .; }
build_kwok() { gobuild kwok "$1" "" sigs.k8s.io/kwok/cmd/kwok; }

started=$SECONDS
if [ -n "${CRDSTACK_KUBE_BIN:-}" ]; then
  has_all "$CRDSTACK_KUBE_BIN" "${kube_tools[@]}" || die "CRDSTACK_KUBE_BIN=$CRDSTACK_KUBE_BIN lacks one of: ${kube_tools[*]}"
  kube_bin=$CRDSTACK_KUBE_BIN
else
  kube_dir="$cache/kube-$kube_version" etcd_dir="$cache/etcd-$etcd_version" kwok_dir="$cache/kwok-$kwok_version"
  has_all "$kube_dir" kube-apiserver kube-controller-manager kube-scheduler kubectl || build "Kubernetes $kube_version" "$kube_dir" build_kube
  has_all "$etcd_dir" etcd || build "etcd $etcd_version" "$etcd_dir" build_etcd
  has_all "$kwok_dir" kwok || build "kwok $kwok_version" "$kwok_dir" build_kwok
  kube_bin="$cache/cluster-$kube_version-etcd-$etcd_version-kwok-$kwok_version"
  mkdir -p "$kube_bin"
  for tool in kube-apiserver kube-controller-manager kube-scheduler kubectl; do ln -sfn "$kube_dir/$tool" "$kube_bin/$tool"; done
  ln -sfn "$etcd_dir/etcd" "$kube_bin/etcd"
  ln -sfn "$kwok_dir/kwok" "$kube_bin/kwok"
fi
log "Kubernetes: $("$kube_bin/kube-apiserver" --version), $("$kube_bin/etcd" --version | head -n 1), $("$kube_bin/kwok" --version | cut -d' ' -f1-3) in $kube_bin ($((SECONDS - started))s)"

printf 'export %s=%q\n' CRDSTACK_PULUMI_BIN "$pulumi_bin" PULUMI_HOME "$home" CRDSTACK_KUBE_BIN "$kube_bin"
