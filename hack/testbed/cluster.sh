#!/usr/bin/env bash
# Creates the kind cluster unless it exists (so `make up` is idempotent), with every node on the pinned image.
# Usage: hack/testbed/cluster.sh <kind binary> <cluster name> <kind config> <node image>
set -euo pipefail
kind="$1" name="$2" config="$3" image="$4"

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
  echo "kind cluster '$name' exists: updating it"
  exit 0
fi
echo "creating kind cluster '$name' (control plane + ue, edge, cloud workers) from $image"
"$kind" create cluster --name "$name" --config "$config" --image "$image" --wait 180s
