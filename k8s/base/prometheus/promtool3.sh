#!/usr/bin/env bash
# Builds promtool and prometheus of the version the cluster runs (PROMETHEUS_IMAGE in versions.env) from their Go
# module, in one `go build`, so the second binary costs only the packages the first lacks. promtool because
# Debian's is 2.42 and built without Kubernetes discovery (it rejects our kubernetes_sd_configs and cannot read
# native-histogram series in rule tests); prometheus for machines that cannot pull its image (hack/offline-ci).
# Prints promtool's path; prometheus lies beside it as prometheus-v<version>.
#   usage: k8s/base/prometheus/promtool3.sh [output-dir]      (default: ./bin)
# Needs Go (the Go module proxy serves github.com/prometheus/prometheus; 3.x.y is module v0.3xx.y).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
# shellcheck disable=SC1091
source "$root/versions.env"
version="${PROMETHEUS_IMAGE#*:v}"
version="${version%%@*}"
if ! [[ "$version" =~ ^3\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "promtool3.sh: cannot read a 3.x version from PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE in versions.env" >&2
  exit 1
fi
module_version="v0.$((300 + BASH_REMATCH[1])).${BASH_REMATCH[2]}"
out="${1:-$root/bin}"
bin="$out/promtool-v$version"
server="$out/prometheus-v$version"
if [ ! -x "$bin" ] || [ ! -x "$server" ]; then
  command -v go >/dev/null || { echo "promtool3.sh: needs Go (https://go.dev/dl) to build Prometheus $version" >&2; exit 1; }
  mkdir -p "$out"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "promtool3.sh: building promtool and prometheus $version (github.com/prometheus/prometheus@$module_version), minutes the first time" >&2
  # Build inside the module's own source tree (not `go install pkg@version`): its go.mod has replace
  # directives, which only apply when it is the main module.
  src="$(go mod download -json "github.com/prometheus/prometheus@$module_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { echo "promtool3.sh: go mod download gave no source directory" >&2; exit 1; }
  cp -r "$src" "$tmp/prometheus"
  chmod -R u+w "$tmp/prometheus"
  # Only Kubernetes discovery is needed (what prometheus.yml uses): Prometheus' own build tags drop the cloud SDKs
  # (AWS, Azure, GCE, …), which are most of the compile time on a 2-core CI machine. Static (no cgo) so the
  # server runs in a FROM-scratch image; no web UI assets (the module does not carry them): the API is what runs.
  mkdir -p "$tmp/out"
  (cd "$tmp/prometheus" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
    -tags remove_all_sd,enable_kubernetes_sd -o "$tmp/out/" \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version -X github.com/prometheus/common/version.BuildDate=19700101-00:00:00" \
    ./cmd/promtool ./cmd/prometheus) >&2
  mv "$tmp/out/prometheus" "$server"
  mv "$tmp/out/promtool" "$bin"
fi
echo "$bin"
