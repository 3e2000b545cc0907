#!/usr/bin/env bash
# make up: create or update the kind testbed. Idempotent: a re-run with nothing changed changes nothing in the
# cluster; a re-run after a code change rolls exactly the pods whose image changed; a re-run with another
# EMULATION or GRAFANA removes what the new set no longer has (kubectl's ApplySet prune).
# Reads the Makefile's variables from the environment: KIND KUBECTL KIND_CLUSTER KUBE_CONTEXT KIND_NODE_IMAGE
# EMULATION (auto|netem|proxy) GRAFANA (on|off) GRAFANA_PORT PROMETHEUS_PORT PROFILE WAIT_TIMEOUT MEC_CLI
# PROMETHEUS_IMAGE BLACKBOX_EXPORTER_IMAGE GRAFANA_IMAGE IMAGE_TAG.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
: "${KIND:?}" "${KUBECTL:?}" "${KIND_CLUSTER:?}" "${KUBE_CONTEXT:?}" "${KIND_NODE_IMAGE:?}" "${MEC_CLI:?}"
EMULATION="${EMULATION:-auto}" GRAFANA="${GRAFANA:-on}" PROFILE="${PROFILE:-5g-mec}"
MAKE="${MAKE:-make}"
read -ra cli <<<"$MEC_CLI"
step() { printf '\n==> %s\n' "$*"; }

step "checking Docker, the emulation backend, the tools"
EMULATION="$EMULATION" GRAFANA="$GRAFANA" hack/testbed/preflight.sh
for tool in kind kubectl; do
  var=$(tr '[:lower:]' '[:upper:]' <<<"$tool")
  version_var="${var}_VERSION"
  path="${!var}"
  if [[ $path == "bin/$tool-$(sed -n "s/^$version_var=//p" versions.env)" && ! -x $path ]]; then
    hack/tools/install.sh "$tool" >/dev/null
  fi
done

step "kind cluster $KIND_CLUSTER"
hack/testbed/cluster.sh "$KIND" "$KIND_CLUSTER" k8s/kind/cluster.yaml "$KIND_NODE_IMAGE"
emulation="$(hack/testbed/emulation.sh "$EMULATION" "$KIND_CLUSTER-control-plane")"
case "$emulation" in
  netem) overlay=k8s/overlays/kind ;;
  proxy) overlay=k8s/overlays/kind-proxy ;;
esac

step "images"
"$MAKE" --no-print-directory images link-agent-image
local_images=(edge cloud link-agent)
[[ $emulation == proxy ]] && local_images+=(link-proxy)
render_args=()
load=()
for name in "${local_images[@]}"; do
  built="mec-testbed/$name:${IMAGE_TAG:-dev}"
  id="$(docker image inspect -f '{{.Id}}' "$built" 2>/dev/null)" || {
    echo "image $built was not built (make images / make link-agent-image)" >&2
    exit 1
  }
  # A tag made of the image's content: the manifests change exactly when the image does.
  short="${id#sha256:}"
  tagged="mec-testbed/$name:dev-${short:0:12}"
  docker tag "$built" "$tagged"
  load+=("$tagged")
  render_args+=(--image "mec-testbed/$name=$tagged")
done
# Upstream images the user replaced (a mirror, an air-gapped machine): used as given, loaded when they are local.
for var in PROMETHEUS_IMAGE BLACKBOX_EXPORTER_IMAGE GRAFANA_IMAGE; do
  pinned="$(sed -n "s/^$var=//p" versions.env)"
  chosen="${!var:-$pinned}"
  [[ $chosen == "$pinned" ]] && continue
  [[ $var == GRAFANA_IMAGE && $GRAFANA == off ]] && continue
  name="${pinned%%@*}"
  name="${name%:*}"
  render_args+=(--image "$name=$chosen")
  if [[ $chosen != *@* ]] && docker image inspect "$chosen" >/dev/null 2>&1; then load+=("$chosen"); fi
done
[[ $GRAFANA == off ]] && render_args+=(--headless)
# The profile goes into the rendered ConfigMaps (validated first), so a re-run keeps the profile in force.
mkdir -p .cache/render
"${cli[@]}" profile-text "$PROFILE" >.cache/render/profile.yaml
render_args+=(--profile .cache/render/profile.yaml)
hack/testbed/load-images.sh "$KIND" "$KIND_CLUSTER" "${load[@]}"

step "applying $overlay$([[ $GRAFANA == off ]] && echo ' without Grafana') (pruning what it no longer has)"
hack/testbed/apply.sh "$KUBECTL" "$KUBE_CONTEXT" "$overlay" "${render_args[@]}"
# Cluster DNS on the control plane, beside the API server and Prometheus: never behind an emulated link (a lost
# query would cost the resolver's 5 s timeout). kubeadm's CoreDNS already tolerates the control-plane taint.
"$KUBECTL" --context "$KUBE_CONTEXT" -n kube-system patch deployment coredns --type merge \
  -p '{"spec":{"template":{"spec":{"nodeSelector":{"node-role.kubernetes.io/control-plane":""}}}}}' |
  grep -v 'no change' || true

step "profile $PROFILE, readiness"
[[ $GRAFANA == off ]] || "${cli[@]}" ensure-secrets
"${cli[@]}" profile "$PROFILE"
"${cli[@]}" wait --timeout "${WAIT_TIMEOUT:-300}"
[[ $emulation == netem ]] && "${cli[@]}" netem
echo
echo "mec-testbed is up (profile $PROFILE, emulation $emulation$([[ $EMULATION == auto ]] && echo ' (auto)')$([[ $GRAFANA == off ]] && echo ', headless')):"
"${cli[@]}" urls
