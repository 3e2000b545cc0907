#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests run against — kube-apiserver, kube-controller-manager,
# kubectl (k8s.io/kubernetes) and etcd (go.etcd.io/etcd/server/v3) — at the versions pinned in versions.env, from
# the Go module proxy (no kind node image can be pulled on the project's machines, but Go modules can).
#
#   hack/kube/build.sh            build what is missing into $CACHE_DIR/kube-<version>/bin, print that directory
#   hack/kube/build.sh --bin-dir  only print the directory (nothing is built)
#   hack/kube/build.sh --with-node  also kubelet, kube-scheduler, kube-proxy, CoreDNS and kube-router, for
#                                   hack/kube/node.sh
#   hack/kube/build.sh --with-kind  also kubeadm, for the offline kind node image (hack/offline-ci/node-image.sh)
#
# Cached: a binary is rebuilt only when it is missing or its --version does not match the pin. The Go module and
# build caches stay in the default GOPATH/GOCACHE, so every checkout on the machine shares them. A cold build
# takes many minutes on 2 cores; progress (binary, packages compiled, elapsed time) is printed on stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=versions.env source-path=SCRIPTDIR/../..
source "$repo/versions.env"
: "${KUBERNETES_VERSION:?missing in versions.env}" "${ETCD_VERSION:?missing in versions.env}"

CACHE_DIR=${CACHE_DIR:-$HOME/.cache/mec-testbed}
kube_dir="$CACHE_DIR/kube-$KUBERNETES_VERSION"
bin_dir="$kube_dir/bin"

binaries=(etcd kube-apiserver kube-controller-manager kubectl)
if [[ ${1-} == --bin-dir ]]; then
  echo "$bin_dir"
  exit 0
elif [[ ${1-} == --with-node || ${1-} == --with-kind ]]; then
  binaries+=(kubelet kube-scheduler kube-proxy coredns kube-router)
  [[ $1 == --with-kind ]] && binaries+=(kubeadm)
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--bin-dir | --with-node | --with-kind]" >&2
  exit 2
fi

started=$(date +%s)
log() { printf '[kube-build +%4ss] %s\n' "$(($(date +%s) - started))" "$*" >&2; }

command -v go >/dev/null || {
  log "go is not on PATH: install Go >= 1.26 (https://go.dev/dl/) — k8s.io/kubernetes $KUBERNETES_VERSION needs it"
  exit 1
}

mkdir -p "$bin_dir" "$kube_dir/src"
# Two builds at once (make and a test, or two helpers) would race on the same outputs: take turns.
exec 9>"$kube_dir/.build.lock"
if ! flock -n 9; then
  log "another build of $kube_dir is running; waiting for it"
  flock 9
fi

kube_semver=${KUBERNETES_VERSION#v}            # 1.36.1
staging_version="v0.${kube_semver#*.}"         # v0.36.1: the staging modules' tag for this release
etcd_semver=${ETCD_VERSION#v}

# The version line each binary must print for the cache to count as a hit.
expected_version() {
  case $1 in
    kube-apiserver | kube-controller-manager | kubelet | kube-scheduler | kube-proxy) echo "Kubernetes $KUBERNETES_VERSION" ;;
    kubectl) echo "Client Version: $KUBERNETES_VERSION" ;;
    kubeadm) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "etcd Version: $etcd_semver" ;;
    coredns) echo "CoreDNS-${COREDNS_VERSION#v}" ;;
    kube-router) echo "Running kube-router version $KUBE_ROUTER_VERSION, built on 1970-01-01T00:00:00Z, $(go env GOVERSION)" ;;
  esac
}
version_of() {
  case $1 in
    kubectl) "$bin_dir/kubectl" version --client 2>/dev/null ;;
    kubeadm) "$bin_dir/kubeadm" version -o short 2>/dev/null ;;
    coredns) "$bin_dir/coredns" -version 2>/dev/null ;;
    kube-router) "$bin_dir/kube-router" --version 2>&1 | sed 's#^Running [^ ]*kube-router#Running kube-router#' ;;  # it prints on stderr
    *) "$bin_dir/$1" --version 2>/dev/null ;;
  esac
}
up_to_date() {
  # Capture first: with pipefail, `grep -q` closing the pipe early would fail the check (SIGPIPE) at random.
  local out
  [[ -x "$bin_dir/$1" ]] && out=$(version_of "$1") && grep -qxF "$(expected_version "$1")" <<<"$out" || return 1
  # CoreDNS also runs as a pod from a FROM-scratch image (node.sh, KUBE_DNS=pod), so it must be static: a binary
  # built before that (with cgo, so asking for the ELF interpreter) is rebuilt.
  if [[ $1 == coredns ]] && LC_ALL=C grep -qF /lib64/ld-linux "$bin_dir/coredns"; then return 1; fi
}

# The package each binary is built from, in the build module.
package_of() {
  case $1 in
    etcd) echo go.etcd.io/etcd/server/v3 ;; # server/v3 holds etcd's main package
    coredns) echo ./coredns ;;
    kube-router) echo github.com/cloudnativelabs/kube-router/v2/cmd/kube-router ;;
    *) echo "k8s.io/kubernetes/cmd/$1" ;;
  esac
}

# Every binary in one `go build`, with a progress ticker (`-v` names every package it compiles; count them every
# 20 s). One build rather than one per binary: the go command links one binary while it compiles the next one's
# packages, where separate builds leave a core idle through every link and load the package graph each time.
# Static (CGO_ENABLED=0), as Kubernetes' own build links every binary but the kubelet, and as etcd, CoreDNS and
# kube-router build theirs: one setting for all, so every package they share is compiled once (cgo changes the
# net package, and with it everything above it). The kubelet runs as well without cgo (Go's own DNS resolver).
# -X flags naming a variable a binary lacks are ignored by the linker, so one set serves all of them (CoreDNS and
# kube-router, which link client-go, then report its version as Kubernetes', which it is).
go_build() { # module dir, names…
  local dir=$1 t0 progress ticker status=0 out name pkgs=() ldflags
  shift
  for name in "$@"; do pkgs+=("$(package_of "$name")"); done
  ldflags="-s -w $(kube_ldflags) -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION"
  ldflags+=" -X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=1970-01-01T00:00:00Z"
  t0=$(date +%s)
  progress="$kube_dir/build.log"
  out="$bin_dir/.build.tmp"
  rm -rf "$out"
  mkdir -p "$out"
  log "building $* (${pkgs[*]}) …"
  (
    while sleep 20; do
      log "  $(grep -c . "$progress" 2>/dev/null || echo 0) packages compiled, $(($(date +%s) - t0))s"
    done
  ) &
  ticker=$!
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" go build -v -ldflags="$ldflags" -o "$out/" "${pkgs[@]}") \
    >"$progress" 2>&1 || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if ((status != 0)); then
    log "the build failed (exit $status); the last lines of $progress:"
    tail -30 "$progress" >&2
    rm -rf "$out"
    exit "$status"
  fi
  # go build names a binary after its package's last path element, or the one before a major version suffix.
  [[ -f $out/server ]] && mv -f "$out/server" "$out/etcd"
  for name in "$@"; do
    [[ -f $out/$name ]] || { log "the build made no $name (in $out: $(ls "$out"))"; exit 1; }
    mv -f "$out/$name" "$bin_dir/$name" # atomic: an interrupted build never leaves a half binary
  done
  rmdir "$out"
  log "built $* in $(($(date +%s) - t0))s ($(grep -c . "$progress") packages compiled; $(cd "$bin_dir" && du -ch "$@" | tail -1 | cut -f1) in all)"
}

# --- One throwaway build module for every binary: it requires k8s.io/kubernetes, etcd, CoreDNS and kube-router at
# their pins and pins every staging module of Kubernetes (k8s.io/api, client-go, …, required there as v0.0.0 and
# replaced by ./staging/src/…) to the published v0.X.Y tag; the list comes from k8s.io/kubernetes's own go.mod, so a
# release that adds a staging module needs no edit here. One module means one version of each shared dependency
# (client-go, grpc, protobuf, golang.org/x/…), so the build cache compiles it once for all the binaries instead of
# once per binary: etcd, CoreDNS and kube-router then cost mostly their own packages. Minimal version selection
# takes the highest version any of them asks for: CoreDNS moves ten modules of Kubernetes' own pins a patch or
# minor up (golang.org/x/net v0.49.0 -> v0.51.0, x/sys, x/crypto, …, klauspost/compress), and kube-router compiles
# against client-go v0.36.1 instead of its v0.29.2; the tests and make kind-e2e run these very binaries.
kube_module() {
  local dir="$kube_dir/src/kubernetes" gomod
  mkdir -p "$dir"
  gomod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f $gomod ]] || { log "could not download k8s.io/kubernetes@$KUBERNETES_VERSION's go.mod"; exit 1; }
  local replaces
  replaces=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*#\1#p' "$gomod")
  [[ -n $replaces ]] || { log "no staging replace lines found in $gomod: has k8s.io/kubernetes changed its layout?"; exit 1; }
  : "${COREDNS_VERSION:?missing in versions.env}" "${KUBE_ROUTER_VERSION:?missing in versions.env}"
  {
    echo "// Generated by hack/kube/build.sh: builds Kubernetes $KUBERNETES_VERSION, etcd, CoreDNS and kube-router"
    echo "// from the Go module proxy."
    echo "module mec-testbed.local/kube-build"
    echo
    echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes $KUBERNETES_VERSION"
    echo "	go.etcd.io/etcd/server/v3 $ETCD_VERSION"
    echo "	github.com/coredns/coredns $COREDNS_VERSION"
    echo "	github.com/cloudnativelabs/kube-router/v2 $KUBE_ROUTER_VERSION"
    echo ")"
    echo
    echo "replace ("
    for m in $replaces; do echo "	$m => $m $staging_version"; done
    echo ")"
  } >"$dir.go.mod.new"
  # Keep go.sum across runs; start afresh only when the pins changed.
  if ! cmp -s "$dir.go.mod.new" "$dir/go.mod.generated" 2>/dev/null; then
    cp "$dir.go.mod.new" "$dir/go.mod"
    cp "$dir.go.mod.new" "$dir/go.mod.generated"
    rm -f "$dir/go.sum"
    log "generated $dir/go.mod ($(wc -w <<<"$replaces") staging modules pinned to $staging_version)"
  fi
  rm -f "$dir.go.mod.new"
  # CoreDNS's main package lives in the module (see coredns_main).
  mkdir -p "$dir/coredns"
  coredns_main >"$dir/coredns/main.go"
}

# CoreDNS as a library with the plugins a cluster's Corefile uses (kubeadm's default, hack/kube/node.sh's), as
# CoreDNS documents for a build of chosen plugins: no cloud SDKs for route53, azure and clouddns, no etcd client, no
# DataDog tracer. Static, as CoreDNS's own images build it: the same binary runs on the host and in a FROM-scratch
# image.
coredns_main() {
  local p
  printf '// Generated by hack/kube/build.sh: CoreDNS with the plugins a Kubernetes cluster uses.\npackage main\n\nimport (\n'
  printf '\t_ "github.com/coredns/caddy/onevent"\n'
  for p in bind cache errors forward health hosts kubernetes loadbalance log loop metrics ready reload rewrite template whoami; do
    printf '\t_ "github.com/coredns/coredns/plugin/%s"\n' "$p"
  done
  printf '\t"github.com/coredns/coredns/coremain"\n)\n\nfunc main() { coremain.Run() }\n'
}

kube_ldflags() {
  local major=${kube_semver%%.*} minor
  minor=${kube_semver#*.}
  minor=${minor%%.*}
  local out="" pkg
  # The same -X flags Kubernetes' hack/lib/version.sh sets, so `--version` and the API's /version are right.
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    out+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    out+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$out"
}

todo=()
for name in "${binaries[@]}"; do
  if up_to_date "$name"; then
    log "$name is cached ($(expected_version "$name"))"
  else
    todo+=("$name")
  fi
done

if ((${#todo[@]})); then
  log "building ${todo[*]} with $(go version | cut -d' ' -f3) (GOMAXPROCS ${GOMAXPROCS:-$(nproc)} cores, GOCACHE $(go env GOCACHE))"
  kube_module
  go_build "$kube_dir/src/kubernetes" "${todo[@]}"
  for name in "${todo[@]}"; do
    up_to_date "$name" || {
      log "$name was built but reports '$(version_of "$name" | head -1)', not '$(expected_version "$name")'"
      exit 1
    }
  done
fi
log "ready: ${binaries[*]} in $bin_dir"
echo "$bin_dir"
