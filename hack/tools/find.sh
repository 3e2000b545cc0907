#!/usr/bin/env bash
# Which kind or kubectl binary the Makefile uses: the one on PATH when it is the pinned version (versions.env),
# else ./bin/<tool>-<version> (installed on first use by install.sh, sha256-checked). Prints the path; never
# downloads. Users choose another binary with KIND=… or KUBECTL=… (make then does not call this).
#   hack/tools/find.sh kind|kubectl
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../versions.env
source "$root/versions.env"
tool="${1:?usage: hack/tools/find.sh kind|kubectl}"

installed_version() { # tool, path -> its version (v1.2.3) or nothing
  case $1 in
    # "kind v0.32.0 go1.24.2 linux/amd64"
    kind) "$2" version 2>/dev/null | awk '{ print $2 }' ;;
    # "Client Version: v1.36.1" (kubectl ≥ 1.28 prints no "Kustomize" line first)
    kubectl) "$2" version --client 2>/dev/null | sed -n 's/^Client Version: //p' ;;
  esac
}

case $tool in
  kind) want=$KIND_VERSION ;;
  kubectl) want=$KUBECTL_VERSION ;;
  *)
    echo "find.sh: unknown tool '$tool' (kind or kubectl)" >&2
    exit 2
    ;;
esac
if path=$(command -v "$tool" 2>/dev/null) && [[ $(installed_version "$tool" "$path") == "$want" ]]; then
  echo "$path"
else
  echo "bin/$tool-$want"
fi
