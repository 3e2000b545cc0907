#!/usr/bin/env bash
# `make up`'s first step: checks everything it can before anything is downloaded or created, and says what is
# missing and how to supply it. Reads the Makefile's variables from the environment (see hack/testbed/up.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../versions.env
source "$root/versions.env"
problems=()

case "${EMULATION:-auto}" in auto | netem | proxy) ;; *) problems+=("EMULATION must be auto, netem or proxy, got '${EMULATION}'") ;; esac
case "${GRAFANA:-on}" in on | off) ;; *) problems+=("GRAFANA must be on or off, got '${GRAFANA}'") ;; esac
for var in GRAFANA_PORT PROMETHEUS_PORT; do
  v="${!var:-}"
  [[ -z $v || ($v =~ ^[0-9]+$ && $v -ge 1 && $v -le 65535) ]] || problems+=("$var must be a port number (1-65535), got '$v'")
done
[[ ${GRAFANA_PORT:-3000} != "${PROMETHEUS_PORT:-9090}" ]] || problems+=("GRAFANA_PORT and PROMETHEUS_PORT are both ${GRAFANA_PORT}")

if ! command -v docker >/dev/null 2>&1; then
  problems+=("Docker is not installed: install Docker Desktop (macOS, Windows) or Docker Engine (Linux), then make up again")
elif ! docker info >/dev/null 2>&1; then
  problems+=("Docker is not running (or this user cannot reach it): start Docker Desktop / the docker service, then make up again")
fi

# kind and kubectl: a chosen or installed binary at the pinned version, or one that install.sh downloads.
tool_problem() { # tool, path, pinned version
  local tool=$1 path=$2 want=$3 var
  var=$(tr '[:lower:]' '[:upper:]' <<<"$tool")
  if [[ $path == "bin/$tool-$want" ]]; then
    [[ -x $root/$path ]] && return 0
    command -v curl >/dev/null 2>&1 ||
      problems+=("$tool $want is not installed and there is no curl to download it: put $tool $want on PATH or pass $var=/path/to/$tool")
    return 0
  fi
  if ! command -v "$path" >/dev/null 2>&1 && [[ ! -x $path ]]; then
    problems+=("$var=$path is not an executable $tool")
  fi
}
tool_problem kind "${KIND:?}" "$KIND_VERSION"
tool_problem kubectl "${KUBECTL:?}" "$KUBECTL_VERSION"

if ((${#problems[@]})); then
  printf 'make up cannot start:\n' >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi

# A new cluster needs its host ports free (an existing one keeps the ports it has).
if ! docker ps -a --filter "label=io.x-k8s.kind.cluster=${KIND_CLUSTER:?}" --format '{{.Names}}' | grep -q .; then
  for var in GRAFANA_PORT PROMETHEUS_PORT; do
    port="${!var:-}"
    [ -n "$port" ] || continue
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "make up cannot start: 127.0.0.1:$port ($var) is in use, perhaps by another testbed: pick a free one, e.g. make up $var=$((port + 1)) (with another KIND_CLUSTER for a second testbed)" >&2
      exit 1
    fi
  done
fi

# Last: netem, whose failure has its own exit code and advice.
"$root/hack/testbed/check-emulation.sh" "${EMULATION:-auto}"
