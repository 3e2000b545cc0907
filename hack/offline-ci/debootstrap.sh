#!/usr/bin/env bash
# Debian bookworm for kind's base image (base-image.sh): debootstrap of minbase with the packages kind's
# images/base/Dockerfile installs, kept as a tarball keyed by the suite and the package list, so a change to the
# layout base-image.sh makes does not download Debian again. Needs no Docker engine, so CI can start it early,
# beside the CPU-bound builds (it is mostly downloading). Prints the tarball's path.
set -euo pipefail
log_tag=debootstrap
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# kind's list (systemd … procps), then what Debian ships separately: systemd-sysv (/sbin/init), dbus, Debian's
# containerd/runc/CNI plugins, socat (kubectl port-forward) and ebtables.
packages=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,containerd,runc,containernetworking-plugins,socat,ebtables,ipset

tar="$CACHE_DIR/offline-ci/debootstrap-$(content_key "$suite" "$packages").tar"
mkdir -p "$CACHE_DIR/offline-ci"
# One debootstrap at a time: a second caller (kind-e2e while CI's early start still runs) waits for the first.
exec 9>"$tar.lock"
flock 9
if [[ ! -f $tar ]]; then
  command -v debootstrap >/dev/null || die "no debootstrap: apt-get install debootstrap"
  work=$(mktemp -d "$CACHE_DIR/offline-ci/debootstrap.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  t0=$(date +%s)
  log "debootstrap $suite (minbase + kind's packages) from $mirror …"
  debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb
  tar -C "$work/rootfs" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  log "debootstrap done in $(($(date +%s) - t0))s"
fi
echo "$tar"
