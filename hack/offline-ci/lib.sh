# shellcheck shell=bash
# Shared by the scripts in hack/offline-ci/: paths, names, logging and content keys. Sourced, never run.
# Every name carries "mec-kind" so nothing is confused with what the machine's own Docker engine owns.

offline_ci_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$offline_ci_dir/../.." && pwd)
# shellcheck source=../../versions.env
source "$repo/versions.env"

CACHE_DIR=${CACHE_DIR:-${MEC_CACHE_DIR:-$HOME/.cache/mec-testbed}}
# The private Docker engine: its images (node image, our images, build cache) persist in the cache; its sockets
# and run state live under /run and go with `dockerd.sh down`.
MEC_KIND_DATA_ROOT=${MEC_KIND_DATA_ROOT:-$CACHE_DIR/offline-ci/docker}
MEC_KIND_RUN=${MEC_KIND_RUN:-/run/mec-kind}
MEC_KIND_SOCKET="$MEC_KIND_RUN/docker.sock"
MEC_KIND_DOCKER_HOST="unix://$MEC_KIND_SOCKET"
# The engine's default bridge (image builds) and the kind network's bridge: both our own, never docker0.
MEC_KIND_BRIDGE=${MEC_KIND_BRIDGE:-mec-kind0}
MEC_KIND_BRIDGE_CIDR=${MEC_KIND_BRIDGE_CIDR:-10.213.0.1/24}
MEC_KIND_NETWORK=${MEC_KIND_NETWORK:-mec-kind-net}
MEC_KIND_NETWORK_BRIDGE=${MEC_KIND_NETWORK_BRIDGE:-mec-kind-br}
MEC_KIND_NETWORK_SUBNET=${MEC_KIND_NETWORK_SUBNET:-10.214.0.0/24}

_offline_ci_started=${_offline_ci_started:-$(date +%s)}
export _offline_ci_started
log() { printf '[%s +%4ss] %s\n' "${log_tag:-offline-ci}" "$(($(date +%s) - _offline_ci_started))" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# A short content key: sha256 over the given files' contents and any extra strings, first 16 hex digits.
content_key() {
  local f
  {
    for f in "$@"; do
      if [[ -f $f ]]; then
        printf 'file %s\n' "${f#"$repo"/}"
        sha256sum <"$f"
      else
        printf 'value %s\n' "$f"
      fi
    done
  } | sha256sum | cut -c1-16
}

# The private engine, for the scripts that build into it or run kind on it.
private_docker() { DOCKER_HOST="$MEC_KIND_DOCKER_HOST" /usr/bin/docker "$@"; }
