#!/usr/bin/env bash
# Which emulation backend the running cluster gets: probes tc netem inside a kind node (on a throwaway veth pair
# there, never on eth0), which answers for the kernel the nodes really run — the host's on Linux, the Docker VM's
# on macOS and Windows. Prints the backend (netem or proxy) on stdout, the reason on stderr.
#   EMULATION=auto   netem when the probe succeeds, else proxy, saying why
#   EMULATION=netem  netem, or exit 3 with the fix when the probe fails (nothing is deployed)
#   EMULATION=proxy  proxy (no probe)
# Usage: hack/testbed/emulation.sh auto|netem|proxy <node container>
set -euo pipefail
emulation="${1:?usage: emulation.sh auto|netem|proxy <node container>}"
node="${2:?usage: emulation.sh auto|netem|proxy <node container>}"

case "$emulation" in
  proxy) echo proxy; exit 0 ;;
  auto | netem) ;;
  *) echo "EMULATION must be auto, netem or proxy, got '$emulation'" >&2; exit 2 ;;
esac

# shellcheck disable=SC2016 # expanded by the node's shell
probe='a=mecnetem$$; ip link add "$a" type veth peer name "${a}p" || exit 10; tc qdisc add dev "$a" root netem delay 1ms 2>&1; rc=$?; ip link del "$a"; exit $rc'
if out="$(docker exec "$node" sh -c "$probe" 2>&1)"; then
  echo "emulation: tc netem works in the kind nodes' kernel" >&2
  echo netem
  exit 0
fi
case "$out" in
  *"Specified qdisc kind is unknown"* | *"qdisc not found"* | *"No such file or directory"*) why="the kernel has no sch_netem module" ;;
  *"Operation not supported"*) why="the kernel refuses netem (Docker Desktop's VM does: docker/for-mac#7138)" ;;
  *) why="tc netem failed: $(printf '%s' "$out" | tail -1)" ;;
esac
if [ "$emulation" = auto ]; then
  echo "emulation: netem cannot work in the kind nodes' kernel ($why): using the userspace link proxy (EMULATION=proxy; it cannot emulate packet loss)." >&2
  echo proxy
  exit 0
fi
cat >&2 <<MSG
EMULATION=netem cannot work here: $why, and kind nodes use that kernel. Nothing was deployed. Either:
  - give the kernel netem (Linux: sudo modprobe sch_netem; Ubuntu cloud kernels: sudo apt install
    linux-modules-extra-\$(uname -r)), then make up again;
  - or use the userspace link proxy: make up EMULATION=proxy (or leave EMULATION unset: auto picks it).
MSG
exit 3
