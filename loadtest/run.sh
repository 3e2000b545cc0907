#!/usr/bin/env bash
# `make load`: runs a k6 script in the cluster as the mec-load Job on the ue node, streams its progress, prints the
# edge-vs-cloud summary and copies summary.txt and summary.json to results/load-<UTC time>/; exits non-zero when
# k6's thresholds fail.
#   usage: loadtest/run.sh <kubectl> <context> [<mec-testbed CLI command>...]
#   settings: MEC_SCRIPT (echo|inspect|media|mixed, default mixed), MEC_RATE, MEC_DURATION, MEC_SCENARIO,
#   MEC_PROFILE, MEC_EDGE_URL, MEC_CLOUD_URL, MEC_MAX_VUS (loadtest/lib/plan.ts); MEC_RESULTS_DIR (default
#   results/), MEC_START_TIMEOUT (seconds for the pod to start, first image pull included; default 600).
# With the CLI command (the Makefile passes it), the run is judged against the profile in force in the cluster, or
# against MEC_PROFILE (a preset or a file) when set. Portable to macOS: POSIX tools only, no GNU options.
# From the host instead: `k6 run loadtest/echo.ts` with MEC_EDGE_URL/MEC_CLOUD_URL pointing at the testbed.
set -euo pipefail
kubectl="${1:?usage: run.sh <kubectl> <context> [<cli command>...]}"
context="${2:?usage: run.sh <kubectl> <context> [<cli command>...]}"
shift 2
root="$(cd "$(dirname "$0")/.." && pwd)"
ns=mec-testbed
start_timeout="${MEC_START_TIMEOUT:-600}"
results_root="${MEC_RESULTS_DIR:-$root/results}"
k() { "$kubectl" --context "$context" "$@"; }
say() { printf 'load: %s\n' "$*"; }
fail() { printf 'load: %s\n' "$*" >&2; exit 1; }

script="${MEC_SCRIPT:-mixed}"
case "$script" in
  echo | inspect | media | mixed) ;;
  *) echo "MEC_SCRIPT=$script is not a load script: use echo, inspect, media or mixed (files in loadtest/)" >&2; exit 2 ;;
esac
case "$start_timeout" in '' | *[!0-9]*) echo "MEC_START_TIMEOUT=$start_timeout is not a whole number of seconds" >&2; exit 2 ;; esac

# What the run is judged against: the CLI prints the prediction of the profile in force (or of MEC_PROFILE).
prediction=""
if (($# > 0)); then
  prediction="$("$@" prediction ${MEC_PROFILE:+"$MEC_PROFILE"})"
fi

# The Component rendered on its own, with versions.env for the image, by a Kustomization two levels below the
# repository root (kustomize refuses one inside loadtest/ as a cycle; a fixed depth needs no `realpath`, which
# macOS lacks the options of). Rendered before anything in the cluster changes, so a failure changes nothing.
mkdir -p "$root/.cache"
work="$(mktemp -d "$root/.cache/load.XXXXXX")"
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
    envs: [../../versions.env]
    options:
      disableNameSuffixHash: true
      annotations: {config.kubernetes.io/local-config: "true"}
components: [../../loadtest]
YAML
"$kubectl" kustomize --load-restrictor LoadRestrictionsNone "$work" >"$work/load.yaml"
grep -q '^kind: Job$' "$work/load.yaml" || fail "rendering loadtest/ gave no Job (see $work/load.yaml); nothing was changed"

settings=(--from-literal=MEC_SCRIPT="$script")
for var in MEC_RATE MEC_DURATION MEC_SCENARIO MEC_EDGE_URL MEC_CLOUD_URL MEC_MAX_VUS; do
  if [ -n "${!var:-}" ]; then settings+=(--from-literal="$var=${!var}"); fi
done
if [ -n "$prediction" ]; then
  settings+=(--from-literal="MEC_PREDICTION=$prediction")
elif [ -n "${MEC_PROFILE:-}" ]; then
  settings+=(--from-literal="MEC_PROFILE=$MEC_PROFILE")
fi
k -n "$ns" create configmap mec-load-settings "${settings[@]}" --dry-run=client -o yaml | k apply -f - >/dev/null
# Foreground: returns once the old Job's pods are gone too, so the new pod is the only one.
k -n "$ns" delete job mec-load --ignore-not-found --cascade=foreground --wait=true --timeout=120s >/dev/null
k apply --server-side --field-manager=mec-testbed -f "$work/load.yaml" >/dev/null
uid="$(k -n "$ns" get job mec-load -o jsonpath='{.metadata.uid}')"
[ -n "$uid" ] || fail "the mec-load Job was not created"
selector="batch.kubernetes.io/controller-uid=$uid"
profile="${prediction#*\"profile\":\"}"
profile="${prediction:+${profile%%\"*}}"
say "k6 $script.ts on the ue node (MEC_RATE=${MEC_RATE:-20}/s per site, MEC_DURATION=${MEC_DURATION:-1m}, MEC_SCENARIO=${MEC_SCENARIO:-constant}, judged against ${profile:-${MEC_PROFILE:-5g-mec}})"

# Wait for this Job's pod to run (a first pull of the k6 image can take minutes), saying what it waits for.
pod=""
started=$SECONDS
printed=$SECONDS
last=""
while :; do
  # name|phase|reason|message: the message last, so a `|` in it stays in it.
  line="$(k -n "$ns" get pods -l "$selector" -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.status.phase}{"|"}{.status.containerStatuses[?(@.name=="k6")].state.waiting.reason}{"|"}{.status.containerStatuses[?(@.name=="k6")].state.waiting.message}{"\n"}{end}' 2>/dev/null | head -n 1 || true)"
  IFS='|' read -r pod phase reason message <<<"$line" || true
  case "$phase" in Running | Succeeded | Failed) break ;; esac
  case "$reason" in
    ErrImagePull | ImagePullBackOff | InvalidImageName | CreateContainerConfigError | CreateContainerError)
      fail "the k6 pod cannot start ($reason: $message); check K6_IMAGE in versions.env and \`make status\`" ;;
  esac
  elapsed=$((SECONDS - started))
  # The pod's latest event says what a long wait is: Scheduled, Pulling image "grafana/k6…", FailedScheduling, …
  event=""
  if [ -n "$pod" ]; then
    event="$(k -n "$ns" get events --field-selector "involvedObject.kind=Pod,involvedObject.name=$pod" --sort-by=.lastTimestamp -o jsonpath='{.items[-1:].message}' 2>/dev/null || true)"
  fi
  if ((elapsed >= start_timeout)); then
    fail "the k6 pod did not start in ${start_timeout}s (${reason:-${phase:-no pod}}${event:+: $event}); \`kubectl -n $ns describe pod -l $selector\`, or raise MEC_START_TIMEOUT"
  fi
  now="${reason:-${phase:-waiting for the pod}}${event:+: $event}"
  if [ "$now" != "$last" ] || ((SECONDS - printed >= 15)); then
    say "[${elapsed}s] $now"
    last="$now"
    printed=$SECONDS
  fi
  sleep 1
done

k -n "$ns" logs -f "pod/$pod" -c k6 || true

# The summary files are in the pod's emptyDir; its `results` container holds them until they are copied out.
out="$results_root/load-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
copied=()
for file in summary.txt summary.json; do
  if k -n "$ns" exec "$pod" -c results -- cat "/tmp/$file" >"$out/$file" 2>/dev/null && [ -s "$out/$file" ]; then
    copied+=("$file")
  else
    rm -f "$out/$file"
  fi
done
k -n "$ns" exec "$pod" -c results -- touch /tmp/.collected >/dev/null 2>&1 || true
if ((${#copied[@]})); then
  say "${copied[*]} copied to ${out#"$PWD"/}"
else
  rmdir "$out" 2>/dev/null || true
  say "k6 wrote no summary files (see its log above)" >&2
fi

# The Job's verdict once both containers have exited.
status=""
for _ in $(seq 1 60); do
  status="$(k -n "$ns" get job mec-load -o jsonpath='{.status.succeeded}/{.status.failed}')"
  case "$status" in 1/* | */1) break ;; esac
  sleep 1
done
case "$status" in
  1/*) say "done, all thresholds passed (Grafana: MEC testbed: edge vs cloud)" ;;
  */1) fail "k6 reported failed thresholds or errors (see the summary above)" ;;
  *) fail "the Job did not finish (status $status); \`kubectl -n $ns describe job mec-load\`" ;;
esac
