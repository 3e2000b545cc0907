#!/usr/bin/env bash
# The kind node image, assembled offline as `kind build node-image` would make it (it cannot here: it pulls every
# image kubeadm lists that it did not build). Into the private engine (dockerd.sh):
#   - the base image (base-image.sh), with kubeadm, kubelet and kubectl in /usr/bin, crictl (as kind's base has it)
#     and /kind/version;
#   - the images kubeadm asks for (`kubeadm config images list`), each FROM scratch with our binary and the
#     libraries `ldd` lists: kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy (plus iptables),
#     etcd, CoreDNS and pause (at the tag kubeadm names, which becomes containerd's sandbox image);
#   - /kind/manifests/default-cni.yaml with node-routes and kube-router's firewall, and their images;
#   - containerd's CRI `restrict_oom_score_adj = true` and kubelet's --fail-cgroupv1=false: this machine's root lacks
#     CAP_SYS_RESOURCE and its cgroups are v1 (kindest/node needs neither on a user's machine).
# Cached by content: mec-testbed/kind-node:<key>, the key hashing these scripts, the Go sources, the base image and
# every binary; a present image is kept. Prints the image name.
set -euo pipefail
log_tag=node-image
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=$("$repo/hack/kube/build.sh" --bin-dir)
binaries=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns kube-router)
for b in "${binaries[@]}"; do
  [[ -x $bin/$b ]] || die "$bin/$b is missing: run hack/kube/build.sh --with-kind first"
done
base=$("$offline_ci_dir/base-image.sh")
# crictl, as kind's base image has it (`kind load` asks it whether a node already holds an image): built from
# cri-tools at the version kind's images/base/Dockerfile pins, cached by version.
kind_dir=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
crictl_version=$(sed -n 's/^ARG CRICTL_VERSION="\(.*\)"$/\1/p' "$kind_dir/images/base/Dockerfile")
[[ -n $crictl_version ]] || die "no CRICTL_VERSION in kind $KIND_VERSION's images/base/Dockerfile"
crictl="$CACHE_DIR/offline-ci/bin/crictl-$crictl_version"
if [[ ! -x $crictl ]]; then
  log "building crictl $crictl_version from sigs.k8s.io/cri-tools (cold: a few minutes)"
  mkdir -p "$crictl.d"
  GOBIN="$crictl.d" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$crictl_version"
  mv "$crictl.d/crictl" "$crictl"
  rmdir "$crictl.d"
fi
go_dir="$offline_ci_dir/go"

mapfile -t kubeadm_images < <("$bin/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null)
((${#kubeadm_images[@]})) || die "kubeadm config images list printed nothing"
pause_image=$(printf '%s\n' "${kubeadm_images[@]}" | grep '/pause:')

key_inputs=("${BASH_SOURCE[0]}" "$offline_ci_dir/lib.sh" "$offline_ci_dir/collect.sh" "$offline_ci_dir/default-cni.yaml"
  "$go_dir/go.mod" "$go_dir"/cmd/*/main.go "$base" "$KUBERNETES_VERSION" "${kubeadm_images[@]}" "crictl $crictl_version")
log "hashing the inputs (${#binaries[@]} binaries, scripts, Go sources)"
for b in "${binaries[@]}"; do key_inputs+=("$(sha256sum <"$bin/$b" | cut -c1-64)"); done
key=$(content_key "${key_inputs[@]}")
image="mec-testbed/kind-node:$KUBERNETES_VERSION-$key"
if private_docker image inspect "$image" >/dev/null 2>&1; then
  log "cached: $image"
  echo "$image"
  exit 0
fi
t0=$(date +%s)

work="$CACHE_DIR/offline-ci/work/node-$key"
rm -rf "$work"
mkdir -p "$work"
build_container="mec-kind-build-$key"
cleanup() {
  private_docker rm -f -v "$build_container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

log "building node-routes and pause (stdlib Go, static)"
for cmd in node-routes pause; do
  (cd "$go_dir" && CGO_ENABLED=0 GOFLAGS=-trimpath go build -ldflags "-s -w" -o "$work/$cmd" "./cmd/$cmd")
done

netfilter_tools=(/usr/sbin/xtables-nft-multi /usr/sbin/conntrack /usr/lib/x86_64-linux-gnu/xtables/*.so)
# shellcheck disable=SC2016 # run by the collect stage's shell
netfilter_links='for l in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -s xtables-nft-multi /out/usr/sbin/$l; done'

# A FROM-scratch image: the staged files (host path => image path), what collect.sh copies from the base image
# (the files and their libraries), an optional shell step in the collect stage, the entrypoint.
scratch_image() { # tag, entrypoint (JSON), "host:image" files (space-separated), base-image files, extra step
  local tag=$1 entrypoint=$2 staged=$3 from_base=$4 extra=${5:-} ctx pair paths=()
  ctx="$work/ctx-${tag//[\/:]/-}"
  mkdir -p "$ctx/in"
  cp "$offline_ci_dir/collect.sh" "$ctx/collect.sh"
  for pair in $staged; do
    mkdir -p "$ctx/in$(dirname "${pair#*:}")"
    ln "${pair%%:*}" "$ctx/in${pair#*:}" 2>/dev/null || cp "${pair%%:*}" "$ctx/in${pair#*:}"
    paths+=("${pair#*:}")
  done
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base AS collect
COPY in/ /in/
COPY collect.sh /collect.sh
RUN cp -a /in/. / && bash /collect.sh /out ${paths[*]} $from_base && mkdir -p /out/tmp && chmod 1777 /out/tmp
${extra:+RUN $extra}
FROM scratch
COPY --from=collect /out/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT $entrypoint
DOCKERFILE
  DOCKER_BUILDKIT=1 private_docker build -q -t "$tag" "$ctx" >/dev/null
  log "  $tag ($(private_docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
}

log "building the images kubeadm lists, and the CNI's"
images=()
for ref in "${kubeadm_images[@]}"; do
  name=${ref##*/}
  name=${name%%:*}
  case $name in
    kube-apiserver | kube-controller-manager | kube-scheduler | etcd)
      scratch_image "$ref" "[\"/usr/local/bin/$name\"]" "$bin/$name:/usr/local/bin/$name" ""
      ;;
    kube-proxy)
      scratch_image "$ref" '["/usr/local/bin/kube-proxy"]' "$bin/kube-proxy:/usr/local/bin/kube-proxy" \
        "${netfilter_tools[*]}" "$netfilter_links"
      ;;
    coredns) scratch_image "$ref" '["/coredns"]' "$bin/coredns:/coredns" "" ;;
    pause) scratch_image "$ref" '["/pause"]' "$work/pause:/pause" "" ;;
    *) die "kubeadm asks for $ref, which this script does not know how to build" ;;
  esac
  images+=("$ref")
done
node_routes_image="mec-testbed/node-routes:$key"
kube_router_image="mec-testbed/kube-router:$KUBE_ROUTER_VERSION"
scratch_image "$node_routes_image" '["/node-routes"]' "$work/node-routes:/node-routes" /usr/bin/ip
scratch_image "$kube_router_image" '["/usr/local/bin/kube-router"]' "$bin/kube-router:/usr/local/bin/kube-router" \
  "${netfilter_tools[*]} /usr/sbin/ipset" "$netfilter_links"
images+=("$node_routes_image" "$kube_router_image")

log "assembling the node image in $build_container"
private_docker rm -f -v "$build_container" >/dev/null 2>&1 || true # a run cut short leaves it
private_docker run -d --name "$build_container" --privileged --entrypoint sleep "$base" infinity >/dev/null
node() { private_docker exec -i "$build_container" "$@"; }
for b in kubeadm kubelet kubectl; do
  private_docker cp "$bin/$b" "$build_container:/usr/bin/$b"
  node chown root:root "/usr/bin/$b"
done
private_docker cp "$crictl" "$build_container:/usr/local/bin/crictl"
echo "$KUBERNETES_VERSION" | node tee /kind/version >/dev/null
sed -e "s#IMAGE_NODE_ROUTES#$node_routes_image#" -e "s#IMAGE_KUBE_ROUTER#$kube_router_image#" \
  "$offline_ci_dir/default-cni.yaml" | node bash -c 'mkdir -p /kind/manifests && cat > /kind/manifests/default-cni.yaml'
node sed -i -e "s#^\(\s*sandbox_image = \).*#\1\"$pause_image\"#" \
  -e 's#^\(\s*restrict_oom_score_adj = \).*#\1true#' /etc/containerd/config.toml
node sed -i 's#^KUBELET_EXTRA_ARGS=.*#& --fail-cgroupv1=false#' /etc/default/kubelet

node bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
for _ in $(seq 1 60); do node ctr version >/dev/null 2>&1 && break; sleep 0.5; done
node ctr version >/dev/null 2>&1 || die "containerd did not start in the build container"
for ref in "${images[@]}"; do
  private_docker save "$ref" | node ctr -n k8s.io images import --all-platforms --no-unpack --digests - >/dev/null
done
# Pinned, as kind pins its preloaded images (containerd 1.6's import has no --label): the kubelet's image
# garbage collection never removes them.
# shellcheck disable=SC2016 # the build container's shell expands these
node bash -c 'for i in $(ctr -n k8s.io images ls -q); do ctr -n k8s.io images label "$i" io.cri-containerd.pinned=pinned >/dev/null; done'
# Stop containerd cleanly (its metadata database is written on the way out). `sleep` is PID 1 and reaps
# nobody, so "stopped" is the zombie state, not the process being gone.
# shellcheck disable=SC2016
node bash -c 'pid=$(pgrep -x containerd); kill "$pid"
  for i in $(seq 1 80); do grep -q "^State:.*Z" "/proc/$pid/status" 2>/dev/null || [ ! -d "/proc/$pid" ] && exit 0; sleep 0.25; done
  exit 1' || die "containerd did not stop in the build container"

node rm -f /tmp/containerd.log
private_docker commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  "$build_container" "$image" >/dev/null
for ref in "${images[@]}"; do private_docker rmi "$ref" >/dev/null; done
log "built $image in $(($(date +%s) - t0))s ($(private_docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
echo "$image"
