#!/usr/bin/env bash
# Applies a rendered overlay (render.sh) as one ApplySet: server-side apply, then kubectl prunes every object of
# the set that this render no longer has — the other backend's proxies, Services and policies after a switch of
# EMULATION, Grafana after GRAFANA=off. The set's parent is the cluster-scoped Testbed `mec-testbed`, whose type
# k8s/applyset.yaml defines (applied first, and idempotent).
# Prints how many objects were applied, and each one pruned.
# Usage: hack/testbed/apply.sh <kubectl> <context> <overlay> [render.sh options]...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
kubectl="${1:?usage: apply.sh <kubectl> <context> <overlay> [render options]}"
context="${2:?usage: apply.sh <kubectl> <context> <overlay> [render options]}"
shift 2
rendered="$("$root/hack/testbed/render.sh" "$kubectl" "$@")"
# ApplySet pruning is behind kubectl's KUBECTL_APPLYSET gate (alpha) in 1.36; label-selector pruning does not
# work with server-side apply.
"$kubectl" --context "$context" apply --server-side --field-manager=mec-testbed -f "$root/k8s/applyset.yaml" >/dev/null
"$kubectl" --context "$context" wait --for condition=Established --timeout 60s crd/testbeds.mec-testbed.dev >/dev/null
# kubectl creates ConfigMap or Secret parents itself, but not custom ones: create it once, with the two marks kubectl
# looks for — the tool, and the set's ID, base64url(sha256("<name>.<namespace>.<kind>.<group>")) per the ApplySet
# specification (KEP-3659), and an empty list of kinds — and leave the list to kubectl from then on.
if ! "$kubectl" --context "$context" get testbeds.mec-testbed.dev mec-testbed >/dev/null 2>&1; then
  "$kubectl" --context "$context" create -f - >/dev/null <<'PARENT'
apiVersion: mec-testbed.dev/v1alpha1
kind: Testbed
metadata:
  name: mec-testbed
  labels:
    app.kubernetes.io/part-of: mec-testbed
    applyset.kubernetes.io/id: applyset-08j6Or2GQEatDkcEW8hXTuEB3e_wRnEmOLwMEx0eX-U-v1
  annotations:
    applyset.kubernetes.io/tooling: kubectl/v1
    applyset.kubernetes.io/contains-group-kinds: ""
PARENT
fi
printf '%s\n' "$rendered" |
  KUBECTL_APPLYSET=true "$kubectl" --context "$context" apply --server-side --field-manager=mec-testbed \
    --force-conflicts --prune --applyset=testbeds.mec-testbed.dev/mec-testbed -f - |
  awk '/ serverside-applied$/ { n++; next } { print } END { printf "%d objects applied\n", n }'
