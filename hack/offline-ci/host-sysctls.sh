#!/usr/bin/env bash
# The host sysctls a kind cluster's kubelets change (they set what they call the kernel defaults for every node,
# and kind nodes share the host's kernel): saved before the cluster exists, restored and compared after it is
# gone. A user's kind does the same to their machine; on a shared CI machine it must not outlive the run.
#   hack/offline-ci/host-sysctls.sh save|restore|check FILE
set -euo pipefail
keys=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes)
file="${2:?usage: host-sysctls.sh save|restore|check FILE}"
current() { for k in "${keys[@]}"; do printf '%s=%s\n' "$k" "$(sysctl -n "$k")"; done; }
case $1 in
  save) [[ -f $file ]] || current >"$file" ;;
  restore)
    [[ -f $file ]] || exit 0
    while IFS='=' read -r k v; do
      [[ $(sysctl -n "$k") == "$v" ]] || sysctl -q -w "$k=$v"
    done <"$file"
    ;;
  check) diff <(current) "$file" >&2 ;;
  *) echo "usage: $0 save|restore|check FILE" >&2; exit 2 ;;
esac
