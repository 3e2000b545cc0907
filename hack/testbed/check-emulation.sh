#!/usr/bin/env bash
# Before creating anything: can the chosen emulation backend work on this host? kind nodes share the host's
# kernel, so netem works in the cluster iff the host kernel has sch_netem. The link agents check again on every
# node (on a throwaway veth pair) and `make status` shows their verdict; this is the early, cheap warning.
# Usage: hack/testbed/check-emulation.sh netem|proxy
set -euo pipefail
emulation="${1:-netem}"
case "$emulation" in
  proxy) echo "emulation: userspace link proxy (EMULATION=proxy; note: a TCP proxy cannot emulate packet loss)"; exit 0 ;;
  netem) ;;
  *) echo "EMULATION must be netem or proxy, got '$emulation'" >&2; exit 2 ;;
esac

advice() {
  cat >&2 <<MSG
netem is not available on this machine's kernel ($1).
kind nodes use the host kernel, so delay, jitter and loss cannot be applied with tc netem. Either:
  - load the module: sudo modprobe sch_netem
    (Ubuntu cloud kernels ship it separately: sudo apt install linux-modules-extra-\$(uname -r))
  - or use the userspace link proxy: make up EMULATION=proxy
MSG
}

case "$(uname -s)" in
  Linux)
    if [ -d /sys/module/sch_netem ] || grep -qw sch_netem /proc/modules 2>/dev/null; then
      echo "emulation: tc netem (sch_netem loaded)"
    elif modinfo sch_netem >/dev/null 2>&1 || [ -n "$(find "/lib/modules/$(uname -r)" -name 'sch_netem.ko*' -print -quit 2>/dev/null)" ]; then
      echo "emulation: tc netem (sch_netem present; the kernel loads it on first use)"
    elif grep -qs 'CONFIG_NET_SCH_NETEM=y' "/boot/config-$(uname -r)"; then
      echo "emulation: tc netem (built into the kernel)"
    else
      advice "no sch_netem module for kernel $(uname -r)"
      exit 3
    fi
    ;;
  *)
    # Docker Desktop / Colima / Podman run a Linux VM whose kernel we cannot inspect from here: the link agents
    # probe it once the cluster is up, and `make up` reports their verdict.
    echo "emulation: tc netem (the Docker VM's kernel is checked by the link agents once the cluster is up)"
    ;;
esac
