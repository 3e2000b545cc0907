#!/usr/bin/env bash
# The two upstream images the testbed runs that cannot be pulled here but may be built (Apache-2.0): Prometheus
# at PROMETHEUS_IMAGE's version and the blackbox exporter at BLACKBOX_EXPORTER_IMAGE's, each from its Go module
# (static, FROM scratch), into the private engine. Grafana and k6 are AGPL: not built, left out of the CI run.
# The binaries are cached by version: Prometheus by k8s/base/prometheus/promtool3.sh beside the promtool the tests
# use (one build gives both; only Kubernetes discovery, no web UI assets: the API and /metrics are what the testbed
# reads), the blackbox exporter in $CACHE_DIR/offline-ci/bin. Prints the two image names, one a line, for
# `make up PROMETHEUS_IMAGE=… BLACKBOX_EXPORTER_IMAGE=…` (the override a mirror or an air-gapped machine uses).
set -euo pipefail
log_tag=upstream-images
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

image_version() { # PROMETHEUS_IMAGE-style value -> its tag without digest
  local v=${1#*:}
  echo "${v%%@*}"
}
prometheus_version=$(image_version "$PROMETHEUS_IMAGE")
blackbox_version=$(image_version "$BLACKBOX_EXPORTER_IMAGE")

out="$CACHE_DIR/offline-ci/bin"
mkdir -p "$out"

# Builds inside the module's own source tree: its go.mod has replace directives, which only apply to the main
# module (so not `go install pkg@version`).
build_from_module() { # output, module, module version, package, tags, version ldflags
  local output=$1 module=$2 version=$3 pkg=$4 tags=$5 ldflags=$6 src tmp t0
  [[ -x $output ]] && return 0
  command -v go >/dev/null || die "needs Go to build $module"
  t0=$(date +%s)
  log "building $pkg from $module@$version (cold: minutes) …"
  src=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d $src ]] || die "go mod download $module@$version gave no source directory"
  tmp=$(mktemp -d)
  cp -r "$src" "$tmp/src"
  chmod -R u+w "$tmp/src"
  (cd "$tmp/src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -tags "$tags" \
    -ldflags "-s -w $ldflags" -o "$output.tmp" "$pkg") >&2 || {
    rm -rf "$tmp"
    die "building $module failed"
  }
  rm -rf "$tmp"
  mv "$output.tmp" "$output"
  log "built $(basename "$output") in $(($(date +%s) - t0))s"
}

version_flags() { # version
  echo "-X github.com/prometheus/common/version.Version=${1#v} -X github.com/prometheus/common/version.BuildDate=19700101-00:00:00"
}
promtool=$("$repo/k8s/base/prometheus/promtool3.sh" "$CACHE_DIR")
prometheus_bin="$(dirname "$promtool")/prometheus-$prometheus_version"
blackbox_bin="$out/blackbox_exporter-$blackbox_version"
build_from_module "$blackbox_bin" github.com/prometheus/blackbox_exporter "$blackbox_version" . "" \
  "$(version_flags "$blackbox_version")"

scratch_binary_image() { # tag, binary, path in the image
  local tag=$1 binary=$2 path=$3 ctx
  if private_docker image inspect "$tag" >/dev/null 2>&1 &&
    [[ $(private_docker image inspect -f '{{index .Config.Labels "mec-testbed.binary-sha256"}}' "$tag") == "$(sha256sum <"$binary" | cut -c1-64)" ]]; then
    return 0
  fi
  ctx=$(mktemp -d)
  cp "$binary" "$ctx/binary"
  printf 'nobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$ctx/passwd"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY binary $path
COPY passwd /etc/passwd
LABEL mec-testbed.binary-sha256=$(sha256sum <"$binary" | cut -c1-64)
USER 65534
ENTRYPOINT ["$path"]
DOCKERFILE
  DOCKER_BUILDKIT=1 private_docker build -q -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  log "image $tag"
}
prometheus_image="mec-testbed/prometheus:$prometheus_version"
blackbox_image="mec-testbed/blackbox-exporter:$blackbox_version"
scratch_binary_image "$prometheus_image" "$prometheus_bin" /bin/prometheus
scratch_binary_image "$blackbox_image" "$blackbox_bin" /bin/blackbox_exporter
echo "$prometheus_image"
echo "$blackbox_image"
