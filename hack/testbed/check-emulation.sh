#!/usr/bin/env bash
# Before creating anything: can the chosen emulation backend work on this host? kind nodes share the host's
# kernel on Linux, so netem works in the cluster iff the host kernel has sch_netem; elsewhere (Docker Desktop,
# Colima, Podman machine) the Docker VM's kernel decides, which emulation.sh probes once a node runs. This is the
# early, cheap answer: an explicit EMULATION=netem that cannot work stops here, before anything is downloaded.
# Usage: hack/testbed/check-emulation.sh auto|netem|proxy
# MEC_KERNEL_ROOT (tests only) prefixes /sys, /proc, /lib/modules and /boot.
set -euo pipefail
emulation="${1:-auto}"
kroot="${MEC_KERNEL_ROOT:-}"
case "$emulation" in
  proxy) echo "emulation: userspace link proxy (EMULATION=proxy; note: a TCP proxy cannot emulate packet loss)"; exit 0 ;;
  netem | auto) ;;
  *) echo "EMULATION must be auto, netem or proxy, got '$emulation'" >&2; exit 2 ;;
esac

advice() {
  cat >&2 <<MSG
netem is not available on this machine's kernel ($1).
kind nodes use the host kernel, so delay, jitter and loss cannot be applied with tc netem. Either:
  - load the module: sudo modprobe sch_netem
    (Ubuntu cloud kernels ship it separately: sudo apt install linux-modules-extra-\$(uname -r))
  - or use the userspace link proxy: make up EMULATION=proxy (EMULATION=auto, the default, picks it by itself)
MSG
}

# Prints how this Linux kernel provides netem, or fails.
netem_on_host() {
  local release
  release="$(uname -r)"
  if [ -d "$kroot/sys/module/sch_netem" ] || grep -qw sch_netem "$kroot/proc/modules" 2>/dev/null; then
    echo "sch_netem loaded"
  elif { [ -z "$kroot" ] && modinfo sch_netem >/dev/null 2>&1; } ||
    [ -n "$(find "$kroot/lib/modules/$release" -name 'sch_netem.ko*' -print -quit 2>/dev/null)" ]; then
    echo "sch_netem present; the kernel loads it on first use"
  elif grep -qs '^CONFIG_NET_SCH_NETEM=y' "$kroot/boot/config-$release" ||
    { [ -r "$kroot/proc/config.gz" ] && gzip -dc "$kroot/proc/config.gz" 2>/dev/null | grep -q '^CONFIG_NET_SCH_NETEM=y'; }; then
    # WSL2 and some VM kernels have no /boot/config-*, only /proc/config.gz.
    echo "built into the kernel"
  else
    return 1
  fi
}

if [ "$(uname -s)" != Linux ]; then
  # The Docker VM's kernel cannot be inspected from here: emulation.sh probes it inside a node.
  echo "emulation: $emulation (the Docker VM's kernel is checked inside a node once the cluster is up)"
  exit 0
fi
if how="$(netem_on_host)"; then
  echo "emulation: tc netem ($how)"
elif [ "$emulation" = netem ]; then
  advice "no sch_netem module for kernel $(uname -r)"
  exit 3
else
  echo "emulation: this kernel ($(uname -r)) has no sch_netem: the testbed will use the userspace link proxy (EMULATION=auto)"
fi
