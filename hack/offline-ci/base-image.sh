#!/usr/bin/env bash
# kind's base image (what kindest/base is for `kind build node-image`), assembled from Debian without a pull:
# debootstrap of bookworm with the packages kind's images/base/Dockerfile installs (containerd, runc and the CNI
# plugins from Debian instead of kind's own builds), laid out with the files of kind's base image, read from
# kind's Go module at KIND_VERSION. Built into the private engine (dockerd.sh) as mec-testbed/kind-base:<key>,
# the key being a hash of this script, debootstrap.sh (suite and packages) and the kind version; a present image
# is kept.
# Prints the image name.
set -euo pipefail
log_tag=base-image
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

key=$(content_key "${BASH_SOURCE[0]}" "$offline_ci_dir/debootstrap.sh" "$KIND_VERSION")
image="mec-testbed/kind-base:$key"
if private_docker image inspect "$image" >/dev/null 2>&1; then
  log "cached: $image"
  echo "$image"
  exit 0
fi

command -v go >/dev/null || die "no go: kind's base-image files are read from its Go module"
kind_dir=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
files="$kind_dir/images/base/files"
[[ -d $files ]] || die "kind $KIND_VERSION's module has no images/base/files"

work="$CACHE_DIR/offline-ci/work/base-$key"
rootfs="$work/rootfs"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
debootstrap_tar=$("$offline_ci_dir/debootstrap.sh")
mkdir -p "$rootfs"
tar -C "$rootfs" -xf "$debootstrap_tar"

# kind's Dockerfile: scripts 0755, everything else 0644.
install -m 0755 -t "$rootfs/usr/local/bin" "$files"/usr/local/bin/*
mkdir -p "$rootfs/kind/bin" "$rootfs/LICENSES" "$rootfs/etc/containerd" "$rootfs/etc/systemd/system/kubelet.service.d"
install -m 0644 -t "$rootfs/kind" "$files"/kind/README.txt
install -m 0755 -t "$rootfs/kind/bin" "$files"/kind/bin/*
install -m 0644 -t "$rootfs/LICENSES" "$files"/LICENSES/*
install -m 0644 -t "$rootfs/etc" "$files"/etc/crictl.yaml
install -m 0644 -t "$rootfs/etc/containerd" "$files"/etc/containerd/*
install -m 0644 -t "$rootfs/etc/default" "$files"/etc/default/*
install -m 0644 -t "$rootfs/etc/sysctl.d" "$files"/etc/sysctl.d/*
find "$files/etc/systemd/system" -maxdepth 1 -type f -exec install -m 0644 -t "$rootfs/etc/systemd/system" {} +
install -m 0644 -t "$rootfs/etc/systemd/system/kubelet.service.d" "$files"/etc/systemd/system/kubelet.service.d/*

# kind's units and config call containerd in /usr/local/bin; Debian installs it in /usr/bin.
for b in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$b" "$rootfs/usr/local/bin/$b"; done
mkdir -p "$rootfs/opt/cni/bin"
for p in host-local loopback ptp portmap; do cp "$rootfs/usr/lib/cni/$p" "$rootfs/opt/cni/bin/"; done

# The rest of kind's Dockerfile, in the chroot.
chroot "$rootfs" /bin/bash -euc '
  find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
  rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >> /etc/systemd/journald.conf
  ln -sf /usr/lib/systemd/systemd /sbin/init
  systemctl enable kubelet.service containerd.service undo-mount-hacks.service 2>/dev/null
  systemctl mask systemd-binfmt.service 2>/dev/null
  mkdir -p /etc/kubernetes/manifests
  ctr oci spec \
    | jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
    | jq "del(.process.rlimits)" > /etc/containerd/cri-base.json
  apt-get clean
  rm -rf /var/cache/debconf/* /var/lib/apt/lists/* /var/log/* /tmp/* /var/tmp/* /usr/share/doc/* \
    /usr/share/doc-base/* /usr/share/man/* /usr/share/locale/*
'
log "importing the root filesystem ($(du -sh "$rootfs" | cut -f1))"
tar -C "$rootfs" -c . | private_docker import - "mec-testbed/kind-base-rootfs:$key" >/dev/null
# `docker import --change` does not take STOPSIGNAL on Docker 20.10: a two-line build adds the metadata.
printf '%s\n' "FROM mec-testbed/kind-base-rootfs:$key" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
  'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' |
  DOCKER_BUILDKIT=0 private_docker build -q -t "$image" - >/dev/null
private_docker rmi "mec-testbed/kind-base-rootfs:$key" >/dev/null
log "built $image in $(($(date +%s) - t0))s"
echo "$image"
