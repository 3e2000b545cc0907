#!/usr/bin/env bash
# One real node beside hack/kube/control-plane.sh, so pods actually run — kubelet, kube-proxy
# (nftables mode: Service ClusterIPs work), CoreDNS (Service names resolve), kube-router's firewall (NetworkPolicies
# are enforced, as kindnetd enforces them on kind) and kube-scheduler (built by `hack/kube/build.sh --with-node`), a
# private containerd instance and runc (Debian's
# `containerd`/`runc`, which docker.io already brings), the bridge + host-local + portmap CNI plugins (Debian's
# `containernetworking-plugins`), and a pause image compiled here (no image can be pulled). Needs root.
#
#   hack/kube/node.sh up                 start containerd, kube-scheduler, kube-proxy and a kubelet ($KUBE_NODE_NAME)
#   hack/kube/node.sh import-image REF   copy a Docker image into the node's containerd (use imagePullPolicy: Never)
#   hack/kube/node.sh down               drain the node's pods, stop everything and undo host changes
#
# Environment: KUBE_STATE_DIR as for control-plane.sh (the control plane must run there); KUBE_NODE_NAME (default
# mec-test-node); KUBE_POD_CIDR (default 10.244.77.0/24, one bridge `mec-test-cni0`, no overlay); KUBE_DNS:
# `host` (default: CoreDNS runs on the host's address, which works with control-plane.sh's loopback API server) or
# `pod` (as kind and kubeadm deploy it: Deployment kube-system/coredns, label k8s-app=kube-dns, Service kube-dns at
# 10.96.0.10, so NetworkPolicies that allow DNS to those pods are tested as written; needs an API server that
# advertises a non-loopback address, since the pod reaches it through the `kubernetes` Service).
# Host changes, all undone by `down`: the bridge, cgroups under /kubepods, nftables tables `ip/ip6 kube-proxy`, the
# CNI firewall plugin's iptables chains (CNI-FORWARD, CNI-ADMIN), kube-router's iptables chains (KUBE-ROUTER-*,
# KUBE-POD-FW-*, KUBE-NWPLCY-*) and ipsets (KUBE-SRC-*, KUBE-DST-*), and the sysctls kubelet insists on
# (kernel.panic, kernel.panic_on_oops, vm.overcommit_memory, …) which are saved at `up` and restored.
# See hack/kube/STAGE2.md for what was tried and why each setting is there.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self="$repo/hack/kube/node.sh"
# shellcheck source=versions.env source-path=SCRIPTDIR/../..
source "$repo/versions.env" # COREDNS_VERSION names the CoreDNS pod's image
CACHE_DIR=${CACHE_DIR:-$HOME/.cache/mec-testbed}
export CACHE_DIR
state=${KUBE_STATE_DIR:-$CACHE_DIR/control-plane}
node_dir="$state/node"
node_name=${KUBE_NODE_NAME:-mec-test-node}
pod_cidr=${KUBE_POD_CIDR:-10.244.77.0/24}
bridge=mec-test-cni0
dns_mode=${KUBE_DNS:-host}
[[ $dns_mode == host || $dns_mode == pod ]] || { echo "KUBE_DNS must be host or pod, not '$dns_mode'" >&2; exit 2; }
pause_image=docker.io/library/mec-test-pause:3.10
sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

started=$(date +%s)
log() { printf '[node +%3ss] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ -f $state/run/env ]] || die "no control plane in $state: start it first (hack/kube/control-plane.sh up)"
# shellcheck source=/dev/null
source "$state/run/env" # bin, KUBE_APISERVER_PORT, service_cidr, …
[[ -n ${service_cidr-} ]] || die "$state/run/env names no service_cidr: restart the control plane with this checkout's control-plane.sh"
# The kube-dns Service's address in pod mode: the 10th of the Service range (x.y.z.0/N), as kubeadm picks it.
pod_dns_ip="${service_cidr%.*/*}.10"
kubectl_() { "$bin/kubectl" --kubeconfig "$state/admin.kubeconfig" "$@"; }
ctr_() { ctr --address "$node_dir/containerd.sock" --namespace k8s.io "$@"; }

pid_of() {
  local pid
  pid=$(cat "$node_dir/$1.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}
start() { # name, command…
  local name=$1
  shift
  setsid "$@" >>"$node_dir/$name.log" 2>&1 </dev/null &
  echo $! >"$node_dir/$name.pid"
  log "started $name (pid $!, log $node_dir/$name.log)"
}
stop() {
  local pid
  pid=$(pid_of "$1") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$node_dir/$1.pid"
  log "stopped $1"
}
wait_until() { # what, seconds, command…
  local what=$1 timeout=$2 t0
  shift 2
  t0=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) - t0 > timeout)) && {
      log "timed out after ${timeout}s waiting for $what (logs in $node_dir)"
      return 1
    }
    sleep 1
  done
  log "$what ($(($(date +%s) - t0))s)"
}

requirements() {
  (($(id -u) == 0)) || die "needs root (kubelet manages cgroups, mounts and network namespaces)"
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || missing+=(containernetworking-plugins)
  command -v gcc >/dev/null || missing+=(gcc)
  command -v nft >/dev/null || missing+=(nftables)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v ipset >/dev/null || missing+=(ipset) # kube-router keeps each policy's pod addresses in ipsets
  ((${#missing[@]} == 0)) || die "missing ${missing[*]}: apt-get install -y ${missing[*]}"
  docker info >/dev/null 2>&1 || die "needs a running Docker engine (to build the pause image and to import images)"
}

host_ip() { ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

client_cert() { # name, subject → $node_dir/<name>.{crt,key}, signed by the control plane's CA
  local pki="$state/pki"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$node_dir/$1.key" \
    -out "$node_dir/$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$node_dir/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
    -out "$node_dir/$1.crt" -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
  rm -f "$node_dir/$1.csr"
  local kc="$node_dir/$1.kubeconfig"
  rm -f "$kc"
  "$bin/kubectl" --kubeconfig "$kc" config set-cluster c --server "https://127.0.0.1:$KUBE_APISERVER_PORT" \
    --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
  "$bin/kubectl" --kubeconfig "$kc" config set-credentials u --client-certificate "$node_dir/$1.crt" \
    --client-key "$node_dir/$1.key" --embed-certs >/dev/null
  "$bin/kubectl" --kubeconfig "$kc" config set-context c --cluster c --user u >/dev/null
  "$bin/kubectl" --kubeconfig "$kc" config use-context c >/dev/null
}

local_image() { # tag, dir with its Dockerfile: built by Docker (nothing pulled), then into the node's containerd
  DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "$1" "$2" >/dev/null
  cmd_import_image "$1"
}

pause_image() {
  # The sandbox's placeholder process, as registry.k8s.io/pause: holds the namespaces, reaps zombies, exits on
  # SIGTERM. Static, FROM scratch, built by Docker without pulling anything.
  local dir="$node_dir/pause"
  mkdir -p "$dir"
  cat >"$dir/pause.c" <<'C'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void on_term(int sig) { (void)sig; _exit(0); }
static void on_chld(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction term = {.sa_handler = on_term}, chld = {.sa_handler = on_chld, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &term, 0);
  sigaction(SIGTERM, &term, 0);
  sigaction(SIGCHLD, &chld, 0);
  for (;;) pause();
}
C
  gcc -static -Os -s -o "$dir/pause" "$dir/pause.c"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$dir/Dockerfile"
  local_image "${pause_image#docker.io/library/}" "$dir"
}

write_configs() {
  mkdir -p "$node_dir/cni" "$node_dir/kubelet" "$node_dir/pod-logs"
  # restrict_oom_score_adj: this machine's root lacks CAP_SYS_RESOURCE, so runc cannot lower a sandbox's
  # oom_score_adj to -998 ("nsexec: failed to update /proc/self/oom_score_adj: Permission denied").
  cat >"$node_dir/containerd.toml" <<TOML
version = 2
root = "$node_dir/containerd/root"
state = "$node_dir/containerd/state"
[grpc]
  address = "$node_dir/containerd.sock"
[ttrpc]
  address = "$node_dir/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    restrict_oom_score_adj = true
    # network namespaces under the state dir (not /var/run/netns), so node.sh down finds every one to unmount
    netns_mounts_under_state_dir = true
    sandbox_image = "$pause_image"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$node_dir/containerd/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$node_dir/cni"
  [plugins."io.containerd.internal.v1.opt"]
    path = "$node_dir/containerd/opt"
TOML
  # firewall: Docker sets the FORWARD policy to DROP and br_netfilter sends bridged traffic through it, so without
  # this plugin's per-pod ACCEPT rules pod → pod and pod → Service time out (host → pod works either way).
  cat >"$node_dir/cni/10-mec-test.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "mec-test",
  "plugins": [
    { "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$node_dir/cni-ipam", "ranges": [[{ "subnet": "$pod_cidr" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "firewall" }
  ]
}
JSON
  # failCgroupV1: false — this machine has cgroup v1, which kubelet refuses by default since 1.35.
  # address = the host's IP: the API server reaches the kubelet there for logs/exec (loopback is refused as node IP).
  cat >"$node_dir/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $1
port: 20250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 20248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $state/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$node_dir/containerd.sock
podLogsDir: $node_dir/pod-logs
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
resolvConf: /etc/resolv.conf
clusterDNS: [$([[ $dns_mode == pod ]] && echo "$pod_dns_ip" || echo "$1")]
clusterDomain: cluster.local
YAML
  # KUBE_DNS=host: CoreDNS runs on the host, not as a pod, because control-plane.sh's API server listens on
  # loopback only, which pods cannot reach.
  cat >"$node_dir/Corefile" <<COREFILE
.:53 {
    bind $1
    errors
    health 127.0.0.1:20258
    ready 127.0.0.1:20259
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $node_dir/coredns.kubeconfig c
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
}
COREFILE
}

# NetworkPolicies enforced, as kindnetd enforces them on kind (its engine, kube-network-policies, needs nft's `queue`
# expression, which this kernel lacks): kube-router with its firewall only (no routing, no service proxy, no CNI). It
# marks pod traffic the policies allow and REJECTs the rest, in iptables chains of its own. Host → pod traffic (the
# kubelet's probes, the tests) stays allowed, as on kind.
kube_router_up() {
  kubectl_ apply --server-side -f - >/dev/null <<RBAC
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: mec-test-kube-router}
rules:
  - apiGroups: [""]
    resources: [namespaces, pods, nodes, services, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mec-test-kube-router}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: mec-test-kube-router}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: mec-test-kube-router}]
RBAC
  start kube-router "$bin/kube-router" --kubeconfig "$node_dir/kube-router.kubeconfig" --hostname-override "$node_name" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --service-cluster-ip-range "$service_cidr" --metrics-port 0 --health-port 20245
}

# What kube-router leaves behind when it stops (by design: policies stay in force across its restarts). Its own
# --cleanup-config cannot serve: v2.1.0 also cleans up the service proxy it never ran and panics there.
kube_router_cleanup() {
  local chain rule chains set
  for chain in INPUT FORWARD OUTPUT; do
    while rule=$(iptables -S "$chain" 2>/dev/null | grep -m1 -e '-j KUBE-ROUTER-'); do
      eval "iptables -D ${rule#-A }" || break
    done
  done
  chains=$(iptables -S 2>/dev/null | sed -n 's/^-N \(KUBE-ROUTER-[A-Z]*\|KUBE-POD-FW-[A-Z0-9]*\|KUBE-NWPLCY-[A-Z0-9]*\)$/\1/p')
  for chain in $chains; do iptables -F "$chain" 2>/dev/null || true; done
  for chain in $chains; do iptables -X "$chain" 2>/dev/null || true; done
  for set in $(ipset list -n 2>/dev/null | grep -E '^KUBE-(SRC|DST)-'); do ipset destroy "$set" 2>/dev/null || true; done
}

# KUBE_DNS=pod: CoreDNS as kind and kubeadm run it (kube-system/coredns, label k8s-app=kube-dns, Service kube-dns),
# from a FROM-scratch image of the (static) binary. It answers cluster.local only: nothing forwards outside.
coredns_pod() {
  local api
  api=$(kubectl_ get endpointslices -n default -l kubernetes.io/service-name=kubernetes \
    -o jsonpath='{.items[0].endpoints[0].addresses[0]}' 2>/dev/null || true)
  if [[ -z $api || $api == 127.* ]]; then
    log "error: KUBE_DNS=pod: the \`kubernetes\` Service has no endpoint a pod can reach ('$api'); start the control" \
      "plane with KUBE_APISERVER_EXTRA_ARGS='--bind-address 0.0.0.0 --advertise-address $(host_ip)'"
    return 1
  fi
  local dir="$node_dir/coredns-image" image="mec-test-coredns:$COREDNS_VERSION"
  mkdir -p "$dir"
  cp "$bin/coredns" "$dir/coredns"
  printf 'FROM scratch\nCOPY coredns /coredns\nENTRYPOINT ["/coredns"]\n' >"$dir/Dockerfile"
  local_image "$image" "$dir"
  kubectl_ apply --server-side -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mec-test-coredns-pod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: mec-test-coredns}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
        }
        cache 30
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
        - name: coredns
          image: docker.io/library/$image
          imagePullPolicy: Never
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
          readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
          livenessProbe: {httpGet: {path: /health, port: 8080}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
          volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $pod_dns_ip
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP}
    - {name: dns-tcp, port: 53, protocol: TCP}
YAML
}

cmd_up() {
  requirements
  if pid_of kubelet >/dev/null; then
    log "node $node_name already runs (state $node_dir)"
    return 0
  fi
  bin=$("$repo/hack/kube/build.sh" --with-node)
  mkdir -p "$node_dir"
  local ip
  ip=$(host_ip)
  [[ -n $ip ]] || die "no IPv4 source address found (ip route get 1.1.1.1)"
  [[ -f $node_dir/sysctl.saved ]] || sysctl -n "${sysctls[@]}" >"$node_dir/sysctl.saved"
  write_configs "$ip"
  client_cert kubelet "/O=system:nodes/CN=system:node:$node_name"
  client_cert scheduler "/CN=system:kube-scheduler"
  client_cert kube-proxy "/CN=system:kube-proxy"
  client_cert coredns "/CN=mec-test-coredns"
  client_cert kube-router "/CN=mec-test-kube-router"

  start containerd containerd --config "$node_dir/containerd.toml"
  wait_until "containerd answers" 60 ctr_ version
  pause_image
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$node_dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$node_dir/scheduler.kubeconfig" --authorization-kubeconfig "$node_dir/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false
  # nftables mode: its own `ip/ip6 kube-proxy` tables, nothing mixed into Docker's iptables rules. conntrack 0: leave
  # the host's conntrack sysctls alone.
  start kube-proxy "$bin/kube-proxy" --kubeconfig "$node_dir/kube-proxy.kubeconfig" --proxy-mode nftables \
    --hostname-override "$node_name" --cluster-cidr "$pod_cidr" --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --metrics-bind-address 127.0.0.1:20249 --healthz-bind-address 127.0.0.1:20256
  # What CoreDNS's kubernetes plugin reads (the rules of the system:coredns ClusterRole kubeadm installs).
  kubectl_ apply --server-side -f - >/dev/null <<RBAC
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: mec-test-coredns}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: mec-test-coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: mec-test-coredns}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: mec-test-coredns}]
RBAC
  [[ $dns_mode == host ]] && start coredns "$bin/coredns" -conf "$node_dir/Corefile"
  start kubelet "$bin/kubelet" --config "$node_dir/kubelet.yaml" --kubeconfig "$node_dir/kubelet.kubeconfig" \
    --root-dir "$node_dir/kubelet" --cert-dir "$node_dir/kubelet-pki" --hostname-override "$node_name" --node-ip "$ip" \
    --node-labels "mec-testbed.dev/site=edge"
  wait_until "node $node_name is Ready" 180 kubectl_ wait --for=condition=Ready "node/$node_name" --timeout=2s ||
    { cmd_down; exit 1; }
  wait_until "kube-proxy is healthy" 60 curl -fsS http://127.0.0.1:20256/healthz ||
    { cmd_down; exit 1; }
  kube_router_up # after the node exists: kube-router looks its node up at start and exits if it is not there
  wait_until "kube-router enforces NetworkPolicies" 60 curl -fsS http://127.0.0.1:20245/healthz ||
    { cmd_down; exit 1; }
  if [[ $dns_mode == host ]]; then
    wait_until "CoreDNS serves cluster.local on $ip:53" 60 curl -fsS http://127.0.0.1:20259/ready ||
      { cmd_down; exit 1; }
  else
    coredns_pod || { cmd_down; exit 1; }
    wait_until "CoreDNS (pod) serves cluster.local on $pod_dns_ip:53" 120 \
      kubectl_ -n kube-system wait --for=condition=Available deployment/coredns --timeout=2s || { cmd_down; exit 1; }
  fi
  log "node $node_name runs pods (CNI $pod_cidr on $bridge; images: $self import-image <docker image>)"
}

cmd_import_image() {
  local ref=${1:?usage: $self import-image <docker image>}
  docker image inspect "$ref" >/dev/null 2>&1 || die "no Docker image $ref here (build it first)"
  docker save "$ref" | ctr_ images import --no-unpack=false - >/dev/null
  log "imported $ref into the node's containerd"
}

cmd_down() {
  [[ -d $node_dir ]] || return 0
  if pid_of kubelet >/dev/null && kubectl_ get --raw /readyz >/dev/null 2>&1; then
    # Let the kubelet tear pods down itself (CNI DEL releases IPs and veths) before it stops; cordon first, so
    # the scheduler does not bind the replacements the controllers make.
    kubectl_ cordon "$node_name" >/dev/null 2>&1 || true
    kubectl_ delete pods --all-namespaces --field-selector "spec.nodeName=$node_name" \
      --grace-period=1 --wait=false >/dev/null 2>&1 || true
    wait_until "pods on $node_name are gone" 30 bash -c \
      "! $(printf %q "$bin/kubectl") --kubeconfig $(printf %q "$state/admin.kubeconfig") get pods -A --no-headers --field-selector spec.nodeName=$node_name | grep -q ." ||
      true
  fi
  stop kubelet
  stop kube-proxy
  stop coredns
  stop kube-router
  kube_router_cleanup
  stop kube-scheduler
  # Whatever still runs (a pod the kubelet did not finish): kill its tasks through containerd.
  if pid_of containerd >/dev/null; then
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  # Shims outlive containerd by design; ours are the ones started with our socket.
  pkill_ours() {
    local p
    for p in $(pgrep -f containerd-shim-runc-v2 || true); do
      tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$node_dir/containerd.sock" && kill -KILL "$p" 2>/dev/null
    done
    return 0
  }
  pkill_ours
  # Mounts (rootfs overlays, netns, pod volumes) under our directory, deepest first.
  awk -v d="$node_dir" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  nft delete table ip kube-proxy 2>/dev/null || true
  nft delete table ip6 kube-proxy 2>/dev/null || true
  # The firewall plugin removes each pod's rules on CNI DEL but keeps its chains and the jump from FORWARD.
  if iptables -S CNI-FORWARD >/dev/null 2>&1; then
    iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null || true
    iptables -F CNI-FORWARD 2>/dev/null || true
    iptables -X CNI-FORWARD 2>/dev/null || true
    iptables -F CNI-ADMIN 2>/dev/null || true
    iptables -X CNI-ADMIN 2>/dev/null || true
  fi
  find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null || true
  if [[ -f $node_dir/sysctl.saved ]]; then
    local i=0 v
    while read -r v; do
      sysctl -q -w "${sysctls[i]}=$v" || true
      i=$((i + 1))
    done <"$node_dir/sysctl.saved"
    rm -f "$node_dir/sysctl.saved"
    log "restored ${sysctls[*]}"
  fi
  kubectl_ delete node "$node_name" --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$node_dir/containerd" "$node_dir/kubelet" "$node_dir/cni-ipam" 2>/dev/null || true
  log "node $node_name stopped"
}

case ${1-} in
  up) cmd_up ;;
  down) cmd_down ;;
  import-image) cmd_import_image "${2-}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
