#!/usr/bin/env bash
# Creates the kind cluster unless it exists (so `make up` is idempotent), with every node on the pinned image and
# Grafana's and Prometheus's host ports as chosen (GRAFANA_PORT, PROMETHEUS_PORT; default: k8s/kind/cluster.yaml's),
# so two testbeds (two KIND_CLUSTER names) can run on one machine. Then records the ports the control-plane
# container really publishes on its node (annotation mec-testbed.dev/host-ports), where `make status` reads them.
# Usage: hack/testbed/cluster.sh <kind binary> <cluster name> <kind config> <node image>
set -euo pipefail
kind="$1" name="$2" config="$3" image="$4"
GRAFANA_NODE_PORT=30300 PROMETHEUS_NODE_PORT=30090 # k8s/components/kind's NodePorts

# The config with each host port replaced: the hostPort that follows a containerPort gets that port's choice.
render_config() {
  awk -v g="${GRAFANA_PORT:-}" -v p="${PROMETHEUS_PORT:-}" -v gn="$GRAFANA_NODE_PORT" -v pn="$PROMETHEUS_NODE_PORT" '
    match($0, /containerPort: *[0-9]+/) {
      port = substr($0, RSTART + 14, RLENGTH - 14) + 0
      want = (port == gn) ? g : (port == pn) ? p : ""
    }
    /hostPort:/ && want != "" { sub(/hostPort: *[0-9]+/, "hostPort: " want); want = "" }
    { print }' "$config"
}

annotate_host_ports() {
  local control="${name}-control-plane" ports="" node_port published
  for node_port in "$GRAFANA_NODE_PORT" "$PROMETHEUS_NODE_PORT"; do
    published="$(docker port "$control" "$node_port/tcp" 2>/dev/null | head -1)"
    [ -n "$published" ] && ports="${ports:+$ports,}$node_port=$published"
  done
  docker exec "$control" kubectl --kubeconfig /etc/kubernetes/admin.conf annotate --overwrite node "$control" \
    "mec-testbed.dev/host-ports=$ports" >/dev/null
}

if ! docker info >/dev/null 2>&1; then
  echo "Docker is not running (or this user cannot reach it): start Docker Desktop / the docker service, then run make up again." >&2
  exit 1
fi
if "$kind" get clusters 2>/dev/null | grep -qx "$name"; then
  # A cluster whose node containers were stopped (reboot, Docker restart) answers no API: say so instead of
  # failing later with a timeout.
  if ! docker ps --format '{{.Names}}' | grep -qx "${name}-control-plane"; then
    echo "kind cluster '$name' exists but its nodes are stopped: run 'make down && make up' (or 'docker start \$(docker ps -aq --filter label=io.x-k8s.kind.cluster=$name)')." >&2
    exit 1
  fi
  echo "kind cluster '$name' exists: updating it (its host ports stay as created: make down first to change them)"
else
  echo "creating kind cluster '$name' (control plane + ue, edge, cloud workers) from $image"
  render_config | "$kind" create cluster --name "$name" --config - --image "$image" --wait 180s
fi
annotate_host_ports
