#!/usr/bin/env bash
# Loads the testbed's locally built images into every kind node (nothing is pulled for them). An image that
# was not built is reported, not fatal: `make up` then shows which pod waits for it and why.
# Usage: hack/testbed/load-images.sh <kind binary> <cluster name> <image>...
set -euo pipefail
kind="$1" name="$2"
shift 2
present=()
for image in "$@"; do
  if docker image inspect "$image" >/dev/null 2>&1; then
    present+=("$image")
  else
    echo "warning: image $image is not built (hack/images/build.sh builds the service images); its pods will wait for it" >&2
  fi
done
if ((${#present[@]})); then
  "$kind" load docker-image --name "$name" "${present[@]}"
fi
