#!/usr/bin/env bash
# Builds the promtool of the Prometheus version the cluster runs (PROMETHEUS_IMAGE in versions.env) from its Go
# module, because Debian's promtool is 2.42 and built without Kubernetes discovery: it rejects our
# kubernetes_sd_configs and cannot read native-histogram series in rule tests. Prints the binary's path.
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
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "promtool3.sh: needs Go (https://go.dev/dl) to build promtool $version" >&2; exit 1; }
  mkdir -p "$out"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "promtool3.sh: building promtool $version (github.com/prometheus/prometheus@$module_version), a few minutes the first time" >&2
  # Build inside the module's own source tree (not `go install pkg@version`): its go.mod has replace
  # directives, which only apply when it is the main module.
  src="$(go mod download -json "github.com/prometheus/prometheus@$module_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$src" ] || { echo "promtool3.sh: go mod download gave no source directory" >&2; exit 1; }
  cp -r "$src" "$tmp/prometheus"
  chmod -R u+w "$tmp/prometheus"
  # Only Kubernetes discovery is needed to check our config: Prometheus' own build tags drop the cloud SDKs
  # (AWS, Azure, GCE, …), which are most of the compile time on a 2-core CI machine.
  (cd "$tmp/prometheus" && GOWORK=off GOFLAGS=-mod=mod go build -tags remove_all_sd,enable_kubernetes_sd -o "$tmp/promtool" \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" ./cmd/promtool) >&2
  mv "$tmp/promtool" "$bin"
fi
echo "$bin"
