#!/usr/bin/env bash
# A real Kubernetes control plane on loopback — etcd, kube-apiserver, kube-controller-manager — for tests and for
# people. No kubelet and no container runtime: objects are admitted, stored and reconciled (Deployments make
# ReplicaSets make Pods, Pod Security and RBAC are enforced), but pods stay Pending because nothing runs them.
#
#   hack/kube/control-plane.sh up                     build if needed (hack/kube/build.sh), start, wait until ready
#   hack/kube/control-plane.sh down                   stop everything `up` started (pid files) and drop etcd's data
#   hack/kube/control-plane.sh status                 which components run, and the kubeconfig path
#   hack/kube/control-plane.sh restart <component>    stop and start one of etcd|kube-apiserver|kube-controller-manager
#                                                     on the same ports and data (tests of reconnecting clients)
#   hack/kube/control-plane.sh sa-kubeconfig <namespace> <serviceaccount> [out]
#                                                     a kubeconfig holding a short-lived token of that service account
#                                                     (TokenRequest); or impersonate one with the admin kubeconfig:
#                                                     kubectl --as=system:serviceaccount:<ns>:<name> auth can-i …
#
# Environment:
#   KUBE_STATE_DIR    where certificates, kubeconfigs, logs, pid files and etcd's data live
#                     (default $CACHE_DIR/control-plane; tests pass a fresh temporary directory)
#   KUBE_APISERVER_PORT, ETCD_PORT, ETCD_PEER_PORT, KUBE_CONTROLLER_MANAGER_PORT
#                     fixed ports (default: free ports chosen at `up`)
#   KUBE_OWNER_PID    when set, a watchdog runs `down` as soon as that process exits (tests that crash leak nothing)
#   KUBE_READY_TIMEOUT seconds to wait for readiness (default 120)
#   KUBE_APISERVER_EXTRA_ARGS  extra kube-apiserver flags, space-separated, e.g. "--min-request-timeout=5
#                     --etcd-compaction-interval=10s" to make watches expire and resource versions age quickly
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self="$repo/hack/kube/control-plane.sh"
# shellcheck source=versions.env source-path=SCRIPTDIR/../..
source "$repo/versions.env"
CACHE_DIR=${CACHE_DIR:-$HOME/.cache/mec-testbed}
export CACHE_DIR
state=${KUBE_STATE_DIR:-$CACHE_DIR/control-plane}
components=(etcd kube-apiserver kube-controller-manager) # start order; stopped in reverse
service_cidr=10.96.0.0/16

started=$(date +%s)
log() { printf '[kube +%3ss] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

pid_of() { # prints the pid when the component is running
  local pid
  pid=$(cat "$state/run/$1.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

free_port() {
  # Below Linux's ephemeral range (32768+) so outgoing connections never hold it; skip ports already listening.
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 12000))
    if [[ -z $(ss -Hltn "sport = :$port" 2>/dev/null) ]] && ! grep -qx "$port" "$state/run/ports" 2>/dev/null; then
      echo "$port" >>"$state/run/ports"
      echo "$port"
      return
    fi
  done
  die "no free port found on 127.0.0.1"
}

# --- certificates: a throwaway CA, the API server's serving cert, client certs (admin, controller manager) and the
# service-account signing key. ECDSA P-256 keeps generation instant; valid 30 days.
gen_certs() {
  local pki="$state/pki"
  mkdir -p "$pki"
  [[ -f $pki/sa.key && -f $pki/apiserver-kubelet-client.crt ]] && return 0
  log "generating throwaway certificates in $pki"
  (
    cd "$pki"
    umask 077
    ossl() { openssl "$@" 2>/dev/null || { echo "openssl $* failed" >&2 && openssl "$@"; }; }
    ossl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout ca.key -out ca.crt \
      -days 30 -subj "/CN=mec-testbed-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
    leaf() { # name, subject, extensions
      ossl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$1.key" -out "$1.csr" -subj "$2"
      printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$3" >"$1.ext"
      ossl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out "$1.crt" -extfile "$1.ext"
      rm -f "$1.csr" "$1.ext"
    }
    leaf apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    # system:masters is bound to cluster-admin by the API server's bootstrap policy.
    leaf admin "/O=system:masters/CN=mec-testbed-admin" "extendedKeyUsage=clientAuth"
    # The bootstrap policy binds the role system:kube-controller-manager to this user name.
    leaf controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
    # The API server's identity towards kubelets (logs, exec, port-forward), as kubeadm's apiserver-kubelet-client.
    leaf apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
    ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
    ossl pkey -in sa.key -pubout -out sa.pub
  )
}

kubectl_() { "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" "$@"; }

write_kubeconfig() { # file, user, cert name
  local kc=$1
  rm -f "$kc"
  "$bin/kubectl" --kubeconfig "$kc" config set-cluster mec-testbed --server "https://127.0.0.1:$KUBE_APISERVER_PORT" \
    --certificate-authority "$state/pki/ca.crt" --embed-certs >/dev/null
  "$bin/kubectl" --kubeconfig "$kc" config set-credentials "$2" --client-certificate "$state/pki/$3.crt" \
    --client-key "$state/pki/$3.key" --embed-certs >/dev/null
  "$bin/kubectl" --kubeconfig "$kc" config set-context mec-testbed --cluster mec-testbed --user "$2" >/dev/null
  "$bin/kubectl" --kubeconfig "$kc" config use-context mec-testbed >/dev/null
  chmod 600 "$kc"
}

# Each component gets a launcher script (exact command line, reused by `restart`).
write_launchers() {
  local pki="$state/pki" run="$state/run"
  mkdir -p "$state/data" "$state/logs" "$run" "$state/controller-manager"
  launcher() {
    local name=$1
    shift
    {
      echo '#!/usr/bin/env bash'
      printf 'exec'
      printf ' %q' "$@"
      echo
    } >"$run/$name.sh"
    chmod +x "$run/$name.sh"
  }
  # etcd speaks plain HTTP, on loopback only: nothing but the API server reaches it, and it is thrown away.
  # --unsafe-no-fsync: the data dies with the test; fsync on a shared CI disk only adds seconds.
  launcher etcd "$bin/etcd" --name default --data-dir "$state/data/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
  # Flags follow what kubeadm (and so kind) sets, minus the node-facing parts; admission: the defaults (which
  # include PodSecurity, ServiceAccount, LimitRanger, ResourceQuota, webhooks, ValidatingAdmissionPolicy) named
  # explicitly, NodeRestriction left out (there are no kubelets to restrict). --allow-privileged as in kind: the
  # link agent runs privileged in its own namespace, and Pod Security (not this flag) must be what refuses it elsewhere.
  local apiserver_extra=()
  read -ra apiserver_extra <<<"${KUBE_APISERVER_EXTRA_ARGS-}"
  launcher kube-apiserver "$bin/kube-apiserver" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$KUBE_APISERVER_PORT" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$service_cidr" --allow-privileged=true \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP,ExternalIP,Hostname \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultTolerationSeconds,PodSecurity,Priority,RuntimeClass,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook \
    --disable-admission-plugins NodeRestriction \
    --cert-dir "$state/pki/apiserver-generated" --profiling=false "${apiserver_extra[@]}"
  # --use-service-account-credentials: each controller acts as its own service account (kube-system), so RBAC is
  # exercised as in a real cluster; it needs the service-account private key to mint their tokens.
  launcher kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$state/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$state/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$state/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KUBE_CONTROLLER_MANAGER_PORT" --cert-dir "$state/controller-manager" \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --use-service-account-credentials=true --leader-elect=false \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$service_cidr" --profiling=false
}

start_component() {
  local name=$1 pid
  pid_of "$name" >/dev/null && return 0
  # setsid: its own session, so a Ctrl-C meant for `make kube-up` or a test runner's signal does not reach it;
  # `down` (or the owner watchdog) stops it by pid.
  setsid "$state/run/$name.sh" >>"$state/logs/$name.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$state/run/$name.pid"
  log "started $name (pid $pid, log $state/logs/$name.log)"
}

stop_component() {
  local name=$1 pid
  pid=$(pid_of "$name") || {
    rm -f "$state/run/$name.pid"
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/run/$name.pid"
  log "stopped $name (pid $pid)"
}

wait_for() { # what, timeout seconds, command…
  local what=$1 timeout=$2 t0 name
  shift 2
  t0=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    for name in "${components[@]}"; do
      if [[ -f $state/run/$name.pid ]] && ! pid_of "$name" >/dev/null; then
        log "$name exited while waiting for $what; last lines of $state/logs/$name.log:"
        tail -25 "$state/logs/$name.log" >&2
        return 1
      fi
    done
    if (($(date +%s) - t0 > timeout)); then
      log "timed out after ${timeout}s waiting for $what; logs are in $state/logs"
      return 1
    fi
    sleep 0.5
  done
  log "$what ($(($(date +%s) - t0))s)"
}

etcd_healthy() { curl -fsS "http://127.0.0.1:$ETCD_PORT/health"; }
apiserver_ready() { kubectl_ get --raw /readyz; }
# The controllers run once the serviceaccount controller has made the `default` account (pods need it to pass
# ServiceAccount admission, so Deployments only make pods from then on).
controllers_ready() {
  curl -fsSk "https://127.0.0.1:$KUBE_CONTROLLER_MANAGER_PORT/healthz" && kubectl_ -n default get serviceaccount default
}

load_env() {
  [[ -f $state/run/env ]] || die "no control plane state in $state: run \`$self up\` first (KUBE_STATE_DIR=$state)"
  # shellcheck source=/dev/null
  source "$state/run/env"
}

cmd_up() {
  local timeout=${KUBE_READY_TIMEOUT:-120}
  bin=$("$repo/hack/kube/build.sh")
  mkdir -p "$state/run"
  if [[ -f $state/run/env ]]; then
    load_env
    if pid_of kube-apiserver >/dev/null; then
      log "already running (state $state); \`$self down\` first to start afresh"
      print_summary
      return 0
    fi
  fi
  rm -f "$state/run/ports"
  ETCD_PORT=${ETCD_PORT:-$(free_port)}
  ETCD_PEER_PORT=${ETCD_PEER_PORT:-$(free_port)}
  KUBE_APISERVER_PORT=${KUBE_APISERVER_PORT:-$(free_port)}
  KUBE_CONTROLLER_MANAGER_PORT=${KUBE_CONTROLLER_MANAGER_PORT:-$(free_port)}
  printf '%s\n' "bin=$bin" "ETCD_PORT=$ETCD_PORT" "ETCD_PEER_PORT=$ETCD_PEER_PORT" \
    "KUBE_APISERVER_PORT=$KUBE_APISERVER_PORT" "KUBE_CONTROLLER_MANAGER_PORT=$KUBE_CONTROLLER_MANAGER_PORT" \
    "service_cidr=$service_cidr" >"$state/run/env"

  gen_certs
  write_kubeconfig "$state/admin.kubeconfig" mec-testbed-admin admin
  write_kubeconfig "$state/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
  write_launchers

  # Whatever fails from here on, stop what this call started.
  abort() {
    log "start failed: stopping what was started"
    cmd_down_quiet
    exit 1
  }
  start_component etcd || abort
  wait_for "etcd is healthy on 127.0.0.1:$ETCD_PORT" "$timeout" etcd_healthy || abort
  start_component kube-apiserver || abort
  wait_for "kube-apiserver is ready on https://127.0.0.1:$KUBE_APISERVER_PORT" "$timeout" apiserver_ready || abort
  start_component kube-controller-manager || abort
  wait_for "kube-controller-manager runs its controllers" "$timeout" controllers_ready || abort

  if [[ -n ${KUBE_OWNER_PID-} ]]; then
    # Detached watchdog: when the owner (a test process) goes away without calling down, clean up anyway.
    KUBE_STATE_DIR=$state setsid "$self" _watchdog "$KUBE_OWNER_PID" >/dev/null 2>&1 </dev/null &
  fi
  print_summary
}

print_summary() {
  log "control plane $KUBERNETES_VERSION ready: https://127.0.0.1:$KUBE_APISERVER_PORT (no kubelet: pods stay Pending)"
  log "  export KUBECONFIG=$state/admin.kubeconfig"
  log "  as a service account: $self sa-kubeconfig <namespace> <name>, or kubectl --as=system:serviceaccount:<ns>:<name>"
  log "  stop: KUBE_STATE_DIR=$state $self down"
  echo "$state/admin.kubeconfig"
}

# Runs detached beside a control plane whose owner is a test process. It remembers the pids (restarts change
# them) so that even when the state directory was deleted under running processes, nothing outlives the owner.
cmd_watchdog() {
  local owner=$1 pids=() name pid
  while kill -0 "$owner" 2>/dev/null && [[ -f $state/run/env ]]; do
    pids=()
    for name in "${components[@]}"; do
      pid=$(cat "$state/run/$name.pid" 2>/dev/null) && pids+=("$pid")
    done
    sleep 1
  done
  if [[ -f $state/run/env ]]; then
    "$self" down
  elif ((${#pids[@]})); then
    # `down` was never run (or was cut short) but the directory is gone: stop what is left by pid.
    kill -TERM "${pids[@]}" 2>/dev/null || true
    sleep 10
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
}

cmd_down_quiet() {
  local i
  # A node started by hack/kube/node.sh in this state dir goes first (it needs the API to drain its pods).
  if [[ -d $state/node ]]; then KUBE_STATE_DIR=$state "$repo/hack/kube/node.sh" down || true; fi
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do stop_component "${components[i]}"; done
  rm -rf "$state/data" "$state/run/env"
}

cmd_down() {
  # Finish even when the caller gives up on us (a test's timeout, Ctrl-C): half a stop leaks processes.
  trap '' INT TERM HUP
  if [[ ! -d $state/run ]]; then
    log "nothing to stop in $state"
    return 0
  fi
  cmd_down_quiet
  log "control plane in $state stopped (certificates, kubeconfigs and logs kept)"
}

cmd_status() {
  local name pid rc=0
  for name in "${components[@]}"; do
    if pid=$(pid_of "$name"); then echo "$name: running (pid $pid)"; else
      echo "$name: stopped"
      rc=1
    fi
  done
  [[ -f $state/admin.kubeconfig ]] && echo "kubeconfig: $state/admin.kubeconfig"
  return "$rc"
}

cmd_restart() {
  local name=${1-}
  [[ " ${components[*]} " == *" $name "* ]] || die "restart which component? one of: ${components[*]}"
  load_env
  stop_component "$name"
  start_component "$name"
  case $name in
    etcd) wait_for "etcd is healthy again" "${KUBE_READY_TIMEOUT:-120}" etcd_healthy ;;
    kube-apiserver) wait_for "kube-apiserver is ready again" "${KUBE_READY_TIMEOUT:-120}" apiserver_ready ;;
    kube-controller-manager) wait_for "kube-controller-manager is healthy again" "${KUBE_READY_TIMEOUT:-120}" controllers_ready ;;
  esac
}

cmd_sa_kubeconfig() {
  local ns=${1-} sa=${2-} out=${3-} token
  [[ -n $ns && -n $sa ]] || die "usage: $self sa-kubeconfig <namespace> <serviceaccount> [out-file]"
  load_env
  out=${out:-$state/sa-$ns-$sa.kubeconfig}
  token=$(kubectl_ -n "$ns" create token "$sa" --duration 1h) ||
    die "could not get a token for service account $ns/$sa (does it exist? kubectl -n $ns get sa $sa)"
  rm -f "$out"
  "$bin/kubectl" --kubeconfig "$out" config set-cluster mec-testbed --server "https://127.0.0.1:$KUBE_APISERVER_PORT" \
    --certificate-authority "$state/pki/ca.crt" --embed-certs >/dev/null
  "$bin/kubectl" --kubeconfig "$out" config set-credentials "$ns:$sa" --token "$token" >/dev/null
  "$bin/kubectl" --kubeconfig "$out" config set-context mec-testbed --cluster mec-testbed --user "$ns:$sa" --namespace "$ns" >/dev/null
  "$bin/kubectl" --kubeconfig "$out" config use-context mec-testbed >/dev/null
  chmod 600 "$out"
  echo "$out"
}

case ${1-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  restart) cmd_restart "${2-}" ;;
  sa-kubeconfig) cmd_sa_kubeconfig "${@:2}" ;;
  _watchdog) cmd_watchdog "${2:?owner pid}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
