#!/usr/bin/env bash
# Stages one image's production dependencies on this machine, for the Dockerfiles' DEPS_FROM=host:
#   .cache/images/<image>/node_modules   `npm ci --omit=dev --workspace …`: exactly the named workspaces' packages
#   .cache/images/<image>/native/        system libraries that native packages in it link and the base lacks
# Redone only when a package.json, the lockfile or this script changes.
#   hack/images/stage-deps.sh <image> <base rootfs dir or -> <workspace>...
# The base rootfs is the local base's staged filesystem (hack/images/build.sh): a library found there is not
# copied again. With `-` (a base that is not ours) no library is copied: a Debian base has the usual ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
image=$1 base_rootfs=$2
shift 2
stage=".cache/images/$image"
log() { printf '[images] %s\n' "$*" >&2; }

manifests=(package.json package-lock.json services/*/package.json)
stamp=$( (printf '%s\n' "$@" "$base_rootfs"; cat "${manifests[@]}" "$0") | sha256sum | cut -c1-16)
if [ -f "$stage.stamp" ] && [ "$(cat "$stage.stamp")" = "$stamp" ]; then exit 0; fi

log "$image: npm ci --omit=dev ${*/#/--workspace=}"
work=".cache/images/.work-$image"
rm -rf "$work" && mkdir -p "$work"
for f in "${manifests[@]}"; do mkdir -p "$work/$(dirname "$f")" && cp "$f" "$work/$f"; done
workspaces=()
for w in "$@"; do workspaces+=("--workspace=$w"); done
(cd "$work" && npm ci --omit=dev "${workspaces[@]}" --ignore-scripts --no-audit --no-fund --loglevel=error >&2)

# Source maps are most of some packages (the Kubernetes client's 14 MB); nothing reads them at run time (node runs
# without --enable-source-maps).
find "$work/node_modules" -name '*.map' -type f -delete

# Native packages (a .node addon, a bundled .so such as sharp's libvips) may link system libraries the
# FROM-scratch base does not carry (it has only what node links). ldd names them; copy the missing ones.
mkdir -p "$work/native"
if [ "$base_rootfs" != - ]; then
  find "$work/node_modules" -type f \( -name '*.node' -o -name '*.so' -o -name '*.so.*' \) -print0 |
    while IFS= read -r -d '' object; do
      ldd "$object" 2>/dev/null | grep -oE '=> /[^ ]+' | cut -c4- || true
    done | sort -u | while read -r lib; do
      case "$(realpath "$lib")" in "$(realpath "$work")"/*) continue ;; esac
      [ -e "$base_rootfs$lib" ] && continue
      log "$image: adding $lib (linked by a native package, missing from the base)"
      mkdir -p "$work/native$(dirname "$lib")"
      cp -L "$lib" "$work/native$lib"
    done
fi

rm -rf "$stage" && mkdir -p "$stage"
mv "$work/node_modules" "$work/native" "$stage/"
rm -rf "$work"
echo "$stamp" >"$stage.stamp"
