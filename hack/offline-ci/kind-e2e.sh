#!/usr/bin/env bash
# make kind-e2e: the user's `make up` path on a real kind cluster, on a machine that cannot pull images (CI).
# Builds what is missing (each step cached by content under $CACHE_DIR), starts the private Docker engine, runs
# e2e/checks.ts (make up, status, profile, up again, up after a code change, EMULATION=netem, an overlay switch,
# down) and then tears everything down and checks nothing is left. Prints one line per check and
# "N passed, M failed". Exit 0 only when nothing failed.
#
# What it overrides of the user's path is only what a user may: KIND_NODE_IMAGE (the image built here), KIND and
# KUBECTL (built here), the host ports, GRAFANA=off (Grafana's image is AGPL: not buildable here), and
# PROMETHEUS_IMAGE / BLACKBOX_EXPORTER_IMAGE (built here from their Go modules), plus the standard DOCKER_HOST,
# KUBECONFIG and kind's KIND_EXPERIMENTAL_DOCKER_NETWORK. Environment: MEC_KIND_E2E_CLUSTER (mec-kind-e2e),
# MEC_KIND_E2E_GRAFANA_PORT (20300), MEC_KIND_E2E_PROMETHEUS_PORT (20090).
set -euo pipefail
log_tag=kind-e2e
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$repo"

((EUID == 0)) || die "needs root (a Docker engine of its own, a bridge, an iptables rule)"
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || die "needs Go (kind, kubeadm, Prometheus and the blackbox exporter are built from their modules)"
node=${NODE:-node}
[[ $("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null) == 24 ]] ||
  die "needs Node 24 on PATH (the checks and the CLI are TypeScript run by Node 24)"

cluster=${MEC_KIND_E2E_CLUSTER:-mec-kind-e2e}
grafana_port=${MEC_KIND_E2E_GRAFANA_PORT:-20300}
prometheus_port=${MEC_KIND_E2E_PROMETHEUS_PORT:-20090}
state=$(mktemp -d /tmp/mec-kind-e2e.XXXXXX)
results="$state/results"
: >"$results"
timings=()
stage() { # name, command...: runs it and keeps its wall time for the summary
  local name=$1 t0=$SECONDS
  shift
  current_stage=$name
  log "$name …"
  "$@"
  timings+=("$name $((SECONDS - t0))s")
  current_stage=
}
current_stage=

kind_bin="$CACHE_DIR/offline-ci/bin/kind-$KIND_VERSION"
base_pid=
sysctls="$state/sysctls"
"$offline_ci_dir/host-sysctls.sh" save "$sysctls"
teardown() {
  local code=$?
  set +e
  log "teardown"
  # A stage that stopped the run is a failure of its own, not a run with nothing failed.
  ((code != 0)) && result FAIL "${current_stage:-the run} stopped kind-e2e (exit $code)" "its output is above"
  [[ -n ${base_pid-} ]] && kill "$base_pid" 2>/dev/null && wait "$base_pid" 2>/dev/null
  if DOCKER_HOST="$MEC_KIND_DOCKER_HOST" "$kind_bin/kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
    DOCKER_HOST="$MEC_KIND_DOCKER_HOST" "$kind_bin/kind" delete cluster --name "$cluster" --kubeconfig "$state/kubeconfig" >/dev/null 2>&1
  fi
  "$offline_ci_dir/dockerd.sh" down
  "$offline_ci_dir/host-sysctls.sh" restore "$sysctls"
  after_checks
  summary
  rm -rf "$state"
  exit $((code != 0 || failed > 0))
}
result() { # ok|FAIL, name, detail
  printf '%-4s %s%s\n' "$1" "$2" "${3:+ — $3}" | tee -a "$results" | sed 's/^/[e2e] /'
}
after_checks() {
  unset DOCKER_HOST # from here on: the machine's own engine
  if ip link show docker0 >/dev/null 2>&1; then result ok "docker0 (the machine's engine's bridge) is still there"; else result FAIL "docker0 is gone"; fi
  local probe_image
  probe_image=$(docker images --format '{{.Repository}}:{{.Tag}}' 'mec-testbed/link-agent' 2>/dev/null | head -1)
  if [[ -z $probe_image ]]; then
    result FAIL "the machine's engine runs containers" "no mec-testbed/link-agent image on it to run (make link-agent-image first)"
  elif docker run --rm --entrypoint node "$probe_image" -e 0 >/dev/null 2>&1; then
    result ok "the machine's engine still runs containers" "docker run --rm $probe_image"
  else
    result FAIL "the machine's engine no longer runs containers" "docker run --rm $probe_image failed"
  fi
  local left=()
  for link in "$MEC_KIND_BRIDGE" "$MEC_KIND_NETWORK_BRIDGE"; do ip link show "$link" >/dev/null 2>&1 && left+=("bridge $link"); done
  iptables -S DOCKER-USER 2>/dev/null | grep -q -- "-i $MEC_KIND_NETWORK_BRIDGE" && left+=("the DOCKER-USER rule")
  [[ -S $MEC_KIND_SOCKET ]] && left+=("the private engine's socket")
  if ((${#left[@]} == 0)); then result ok "nothing of the private engine is left (bridges, rule, socket)"; else result FAIL "left behind: ${left[*]}"; fi
  if "$offline_ci_dir/host-sysctls.sh" check "$sysctls" 2>"$state/sysctl.diff"; then
    result ok "the host sysctls the kubelets changed are restored"
  else
    result FAIL "host sysctls differ" "$(tr '\n' ' ' <"$state/sysctl.diff")"
  fi
}
failed=0
summary() {
  local passed skipped
  passed=$(grep -c '^ok ' "$results" || true)
  failed=$(grep -c '^FAIL ' "$results" || true)
  skipped=$(grep -c '^skip ' "$results" || true)
  log "stages: $(IFS=';'; echo "${timings[*]}")"
  echo "kind-e2e: $passed passed, $failed failed$( ((skipped)) && echo ", $skipped skipped") (left out by design: Grafana and k6, AGPL images that cannot be built here)"
}
trap teardown EXIT

# Debian's download (debootstrap) waits on the network, the Go builds on the CPU: the base image is made beside
# them, so the private engine starts first.
stage "private Docker engine" "$offline_ci_dir/dockerd.sh" up
"$offline_ci_dir/base-image.sh" >"$state/base-image" &
base_pid=$!
stage "Kubernetes binaries with kubeadm (hack/kube/build.sh --with-kind)" hack/kube/build.sh --with-kind >/dev/null
kube_bin=$(hack/kube/build.sh --bin-dir)
build_kind() {
  [[ -x $kind_bin/kind && $("$kind_bin/kind" version 2>/dev/null | awk '{print $2}') == "$KIND_VERSION" ]] && return 0
  GOBIN="$kind_bin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION"
}
stage "kind $KIND_VERSION from its Go module" build_kind
stage "kind base image (debootstrap, made beside the builds above)" wait "$base_pid"
base_pid=
build_node_image() { "$offline_ci_dir/node-image.sh" >"$state/node-image"; }
build_upstream_images() { "$offline_ci_dir/upstream-images.sh" >"$state/upstream"; }
stage "kind node image" build_node_image
node_image=$(tail -1 "$state/node-image")
stage "Prometheus and blackbox exporter images" build_upstream_images
mapfile -t upstream <"$state/upstream"

export DOCKER_HOST="$MEC_KIND_DOCKER_HOST" KIND_EXPERIMENTAL_DOCKER_NETWORK="$MEC_KIND_NETWORK"
export KUBECONFIG="$state/kubeconfig"
make_args=(
  "KIND=$kind_bin/kind" "KUBECTL=$kube_bin/kubectl" "KIND_CLUSTER=$cluster" "KIND_NODE_IMAGE=$node_image"
  GRAFANA=off "GRAFANA_PORT=$grafana_port" "PROMETHEUS_PORT=$prometheus_port"
  "PROMETHEUS_IMAGE=${upstream[0]}" "BLACKBOX_EXPORTER_IMAGE=${upstream[1]}"
)
MEC_E2E_MAKE_ARGS=$(printf '%s\n' "${make_args[@]}" | "$node" -e 'process.stdout.write(JSON.stringify(require("node:fs").readFileSync(0, "utf8").trim().split("\n")))')
export MEC_E2E_MAKE_ARGS MEC_E2E_CLUSTER="$cluster" MEC_E2E_KUBECTL="$kube_bin/kubectl"
export MEC_E2E_PROMETHEUS_PORT="$prometheus_port" MEC_E2E_RESULTS="$results"
if ! stage "the user's path and its checks (e2e/checks.ts)" "$node" "$offline_ci_dir/e2e/checks.ts"; then
  grep -q '^FAIL ' "$results" || result FAIL "e2e/checks.ts stopped without reporting a failure (see its output above)"
fi
