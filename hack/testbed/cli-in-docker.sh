#!/usr/bin/env bash
# Runs services/cli on a machine without Node 24: inside the link-agent image (Node 24 with @kubernetes/client-node
# and yaml, which is all the CLI needs), with this checkout mounted read-only. On kind it joins kind's Docker
# network and uses the cluster's internal kubeconfig (the API server's in-network address), so it works the same
# on Linux and on Docker Desktop; elsewhere it uses the host network and your kubeconfig.
# Usage: hack/testbed/cli-in-docker.sh <kind binary> <kind cluster> <image> <cli arguments>...
set -euo pipefail
kind="$1" cluster="$2" image="$3"
shift 3
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "No Node 24 on this machine and no $image image to run the CLI in: install Node 24, or run 'make link-agent-image' first." >&2
  exit 1
fi
state="$root/.cache/cli"
mkdir -p "$state"
args=(--rm -i --user "$(id -u):$(id -g)" -v "$root:/app/repo:ro" -w /app/repo)
if "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
  "$kind" get kubeconfig --internal --name "$cluster" >"$state/kubeconfig"
  args+=(--network kind -v "$state/kubeconfig:/kubeconfig:ro" -e KUBECONFIG=/kubeconfig)
else
  kubeconfig="${KUBECONFIG:-$HOME/.kube/config}"
  args+=(--network host -v "$kubeconfig:/kubeconfig:ro" -e KUBECONFIG=/kubeconfig)
fi
exec docker run "${args[@]}" "$image" node services/cli/main.ts "$@"
