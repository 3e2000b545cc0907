#!/usr/bin/env bash
# `make load`: runs a k6 script in the cluster as the mec-load Job on the ue node, streams its progress and
# prints the edge-vs-cloud summary at the end; exits non-zero when k6's thresholds fail.
#   usage: loadtest/run.sh <kubectl> <context>     settings: MEC_SCRIPT (echo|inspect|media|mixed, default
#   mixed), MEC_RATE, MEC_DURATION, MEC_SCENARIO, MEC_PROFILE, MEC_EDGE_URL, MEC_CLOUD_URL (loadtest/lib/plan.ts).
# From the host instead: `k6 run loadtest/echo.ts` with MEC_EDGE_URL/MEC_CLOUD_URL pointing at the testbed.
set -euo pipefail
kubectl="${1:?usage: run.sh <kubectl> <context>}"
context="${2:?usage: run.sh <kubectl> <context>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
ns=mec-testbed
k() { "$kubectl" --context "$context" "$@"; }

script="${MEC_SCRIPT:-mixed}"
case "$script" in
  echo | inspect | media | mixed) ;;
  *) echo "MEC_SCRIPT=$script is not a load script: use echo, inspect, media or mixed (files in loadtest/)" >&2; exit 2 ;;
esac

# The Component rendered on its own, with versions.env for the image (a temporary Kustomization: one inside
# loadtest/ would contain the Component's own root, which kustomize refuses as a cycle).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs: {app.kubernetes.io/part-of: mec-testbed}
    includeSelectors: false
    includeTemplates: true
configMapGenerator:
  - name: mec-testbed-versions
    namespace: $ns
    envs: [$(realpath --relative-to="$work" "$root/versions.env")]
    options:
      disableNameSuffixHash: true
      annotations: {config.kubernetes.io/local-config: "true"}
components: [$(realpath --relative-to="$work" "$root/loadtest")]
YAML

settings=(--from-literal=MEC_SCRIPT="$script")
for var in MEC_RATE MEC_DURATION MEC_SCENARIO MEC_PROFILE MEC_EDGE_URL MEC_CLOUD_URL MEC_MAX_VUS; do
  if [ -n "${!var:-}" ]; then settings+=(--from-literal="$var=${!var}"); fi
done
k -n "$ns" create configmap mec-load-settings "${settings[@]}" --dry-run=client -o yaml | k apply -f - >/dev/null
k -n "$ns" delete job mec-load --ignore-not-found --wait=true >/dev/null
"$kubectl" kustomize --load-restrictor LoadRestrictionsNone "$work" | k apply --server-side --field-manager=mec-testbed -f - >/dev/null
echo "load: k6 $script.ts on the ue node (MEC_RATE=${MEC_RATE:-20}/s per site, MEC_DURATION=${MEC_DURATION:-1m}, MEC_SCENARIO=${MEC_SCENARIO:-constant})"

# Wait for the pod to start (or say why it cannot), then follow its log to the end.
for _ in $(seq 1 120); do
  phase="$(k -n "$ns" get pods -l job-name=mec-load -o jsonpath='{.items[0].status.phase}' 2>/dev/null || true)"
  case "$phase" in Running | Succeeded | Failed) break ;; esac
  reason="$(k -n "$ns" get pods -l job-name=mec-load -o jsonpath='{.items[0].status.containerStatuses[0].state.waiting.reason}' 2>/dev/null || true)"
  case "$reason" in
    ErrImagePull | ImagePullBackOff | CreateContainerConfigError)
      echo "load: the k6 pod cannot start ($reason); check K6_IMAGE in versions.env and \`make status\`" >&2
      exit 1
      ;;
  esac
  sleep 1
done
k -n "$ns" logs -f job/mec-load || true
status="$(k -n "$ns" get job mec-load -o jsonpath='{.status.succeeded}/{.status.failed}')"
case "$status" in
  1/*) echo "load: done, all thresholds passed (Grafana: MEC testbed: edge vs cloud)" ;;
  */1) echo "load: k6 reported failed thresholds or errors (see the summary above)" >&2; exit 1 ;;
  *) echo "load: the Job did not finish (status $status); \`kubectl -n $ns describe job mec-load\`" >&2; exit 1 ;;
esac
