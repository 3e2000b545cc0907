#!/usr/bin/env bash
# make down: deletes the testbed's kind cluster and nothing else. When there is no such cluster it says so and
# downloads nothing; kind is installed only when there is a cluster to delete and no kind to do it.
# Reads KIND and KIND_CLUSTER from the environment (the Makefile's variables).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${KIND:?}" "${KIND_CLUSTER:?}"
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "Docker is not running (or not installed), so no kind cluster can be running: nothing to delete." >&2
  exit 0
fi
if ! docker ps -a --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" --format '{{.Names}}' | grep -q .; then
  echo "No kind cluster '$KIND_CLUSTER': nothing to delete."
  exit 0
fi
if [[ $KIND == bin/* && ! -x $root/$KIND ]]; then (cd "$root" && hack/tools/install.sh kind >/dev/null); fi
"$KIND" delete cluster --name "$KIND_CLUSTER"
