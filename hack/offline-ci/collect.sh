#!/bin/bash
# Runs inside the kind base image during an image build: copies each named file, and every library `ldd` lists
# for it, into OUT under the same path, so a FROM-scratch image can run it.
#   collect.sh OUT FILE...
set -euo pipefail
out=$1
shift
copy() {
  [[ -e $out$1 ]] && return 0
  mkdir -p "$out$(dirname "$1")"
  cp -L "$1" "$out$1"
}
for f in "$@"; do
  copy "$f"
  # "not a dynamic executable" (static Go) lists nothing; shared objects list their own dependencies.
  for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true); do copy "$lib"; done
done
