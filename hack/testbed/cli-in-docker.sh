#!/usr/bin/env bash
# Runs services/cli on a machine without Node 24: inside the link-agent image (Node 24 with @kubernetes/client-node
# and yaml, which is all the CLI needs), with this checkout mounted read-only. On kind it joins kind's Docker
# network and uses the cluster's internal kubeconfig (the API server's in-network address), so it works the same
# on Linux and on Docker Desktop; elsewhere it uses the host network and your kubeconfig.
# A file named in the arguments (a profile: `make profile PROFILE=~/lab.yaml`) is mounted read-only too, wherever it
# is. Bind mounts carry `z`, so SELinux hosts (Fedora, RHEL) let the container read them; the admin kubeconfig
# written for it is readable by you alone.
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
chmod 700 "$state"
args=(--rm -i --user "$(id -u):$(id -g)" -v "$root:/app/repo:ro,z" -w /app/repo)
if "$kind" get clusters 2>/dev/null | grep -qx "$cluster"; then
  (umask 077 && "$kind" get kubeconfig --internal --name "$cluster" >"$state/kubeconfig")
  chmod 600 "$state/kubeconfig"
  # kind's network is "kind" unless KIND_EXPERIMENTAL_DOCKER_NETWORK named another.
  args+=(--network "${KIND_EXPERIMENTAL_DOCKER_NETWORK:-kind}" -v "$state/kubeconfig:/kubeconfig:ro,z" -e KUBECONFIG=/kubeconfig)
else
  kubeconfig="${KUBECONFIG:-$HOME/.kube/config}"
  args+=(--network host -v "$kubeconfig:/kubeconfig:ro,z" -e KUBECONFIG=/kubeconfig)
fi

# Files named in the arguments, as the container sees them: inside the checkout by their path from its root (the
# container's working directory), elsewhere mounted one by one under /mnt/args.
cli=()
n=0
for arg in "$@"; do
  if [ -f "$arg" ]; then
    abs="$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"
    case "$abs" in
      "$root"/*) arg="${abs#"$root"/}" ;;
      *)
        n=$((n + 1))
        args+=(-v "$abs:/mnt/args/$n/$(basename "$abs"):ro,z")
        arg="/mnt/args/$n/$(basename "$abs")"
        ;;
    esac
  fi
  cli+=("$arg")
done
exec docker run "${args[@]}" "$image" node services/cli/main.ts ${cli[@]+"${cli[@]}"}
