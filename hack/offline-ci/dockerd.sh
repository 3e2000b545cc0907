#!/usr/bin/env bash
# A private Docker engine for kind on this machine, so the machine's own engine is never reconfigured:
# the same dockerd binary with its own data root (in the cache: images survive between runs), exec root,
# socket, containerd namespaces, empty config file and default bridge (mec-kind0, created here: never --bridge=none, which makes a
# second dockerd delete the machine's docker0), the runc wrapper as default runtime, no iptables of its own.
# The kind network is pre-created with a fixed bridge name so one DOCKER-USER rule lets node-to-node traffic
# past the machine engine's FORWARD DROP (bridged packets traverse iptables when br_netfilter is loaded).
#
#   hack/offline-ci/dockerd.sh up      start it (idempotent), create the bridge, network and rule
#   hack/offline-ci/dockerd.sh down    remove every container and network it holds, stop it, remove the rest
#   hack/offline-ci/dockerd.sh env     print `export DOCKER_HOST=…` for it
set -euo pipefail
log_tag=dockerd
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pidfile="$MEC_KIND_RUN/dockerd.pid"
rule=(DOCKER-USER -i "$MEC_KIND_NETWORK_BRIDGE" -o "$MEC_KIND_NETWORK_BRIDGE" -j ACCEPT)

running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

up() {
  ((EUID == 0)) || die "needs root (a Docker engine, a bridge, an iptables rule)"
  command -v dockerd >/dev/null || die "no dockerd: apt-get install docker.io"
  command -v jq >/dev/null || die "no jq (the runc wrapper edits OCI specs with it): apt-get install jq"
  mkdir -p "$MEC_KIND_RUN" "$MEC_KIND_DATA_ROOT"
  local had_docker0=0
  ip link show docker0 >/dev/null 2>&1 && had_docker0=1
  if ! ip link show "$MEC_KIND_BRIDGE" >/dev/null 2>&1; then
    ip link add "$MEC_KIND_BRIDGE" type bridge
    ip addr add "$MEC_KIND_BRIDGE_CIDR" dev "$MEC_KIND_BRIDGE"
    ip link set "$MEC_KIND_BRIDGE" up
  fi
  if ! running; then
    install -m 0755 "$offline_ci_dir/runc-wrapper.sh" "$MEC_KIND_RUN/runc-wrapper"
    echo '{}' >"$MEC_KIND_RUN/daemon.json"
    log "starting a private dockerd (data root $MEC_KIND_DATA_ROOT, socket $MEC_KIND_SOCKET, bridge $MEC_KIND_BRIDGE)"
    dockerd --config-file "$MEC_KIND_RUN/daemon.json" \
      --data-root "$MEC_KIND_DATA_ROOT" --exec-root "$MEC_KIND_RUN/exec" --pidfile "$pidfile" \
      --host "$MEC_KIND_DOCKER_HOST" --bridge "$MEC_KIND_BRIDGE" \
      --iptables=false --ip-forward=false --ip-masq=false \
      --containerd-namespace mec-kind --containerd-plugins-namespace mec-kind-plugins \
      --add-runtime "mec-kind-runc=$MEC_KIND_RUN/runc-wrapper" --default-runtime mec-kind-runc \
      >"$MEC_KIND_RUN/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do
      private_docker info >/dev/null 2>&1 && break
      sleep 0.5
    done
    private_docker info >/dev/null 2>&1 || {
      tail -20 "$MEC_KIND_RUN/dockerd.log" >&2
      die "the private dockerd did not answer within 30 s (log: $MEC_KIND_RUN/dockerd.log)"
    }
  fi
  if ((had_docker0)) && ! ip link show docker0 >/dev/null 2>&1; then
    die "docker0 vanished after starting the private dockerd: the machine's engine needs a restart"
  fi
  if ! private_docker network inspect "$MEC_KIND_NETWORK" >/dev/null 2>&1; then
    private_docker network create --driver bridge --subnet "$MEC_KIND_NETWORK_SUBNET" \
      -o com.docker.network.bridge.name="$MEC_KIND_NETWORK_BRIDGE" "$MEC_KIND_NETWORK" >/dev/null
  fi
  if iptables -n -L DOCKER-USER >/dev/null 2>&1 && ! iptables -C "${rule[@]}" 2>/dev/null; then
    iptables -I "${rule[0]}" 1 "${rule[@]:1}"
  fi
  log "private dockerd ready ($(private_docker version --format '{{.Server.Version}}'), network $MEC_KIND_NETWORK on $MEC_KIND_NETWORK_BRIDGE)"
}

down() {
  if running; then
    local containers
    mapfile -t containers < <(private_docker ps -aq)
    ((${#containers[@]} == 0)) || private_docker rm -f -v "${containers[@]}" >/dev/null
    private_docker network rm "$MEC_KIND_NETWORK" >/dev/null 2>&1 || true
    private_docker volume prune -f >/dev/null 2>&1 || true
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "private dockerd stopped"
  fi
  while iptables -C "${rule[@]}" 2>/dev/null; do iptables -D "${rule[@]}"; done
  ip link show "$MEC_KIND_NETWORK_BRIDGE" >/dev/null 2>&1 && ip link del "$MEC_KIND_NETWORK_BRIDGE"
  ip link show "$MEC_KIND_BRIDGE" >/dev/null 2>&1 && ip link del "$MEC_KIND_BRIDGE"
  # The engine's mounts under its exec root (netns, shm) go with it; anything left would pin the directory.
  if [[ -d $MEC_KIND_RUN ]]; then
    grep -o " $MEC_KIND_RUN/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$MEC_KIND_RUN"
  fi
}

case ${1-} in
  up) up ;;
  down) down ;;
  env) echo "export DOCKER_HOST=$MEC_KIND_DOCKER_HOST" ;;
  *)
    echo "usage: $0 up|down|env" >&2
    exit 2
    ;;
esac
