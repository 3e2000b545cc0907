#!/usr/bin/env bash
# Builds mec-testbed/link-agent:$IMAGE_TAG (default dev) from services/link-agent/Dockerfile. Where the official
# Node 24 base (NODE_BASE_IMAGE in versions.env) can be pulled, the Dockerfile's defaults do everything (iproute2
# from Debian and npm ci in build stages). Where nothing can be pulled, this script stages Debian's iproute2 tools
# (.cache/images/link-agent-tools/) and the agent's production node_modules (.cache/images/link-agent/, by
# hack/images/stage-deps.sh) and builds on the local Node base (made by hack/images/build.sh when missing). MEC_IMAGE_BASE=official|local forces the choice.
#   services/link-agent/image/build.sh          (mec-testbed/link-agent:$IMAGE_TAG, dev by default)
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=/dev/null
source versions.env
TAG="${IMAGE_TAG:-dev}"
CACHE_DIR="${MEC_CACHE_DIR:-${CACHE_DIR:-$HOME/.cache/mec-testbed}}"
BASE_IMAGE="${BASE_IMAGE:-mec-testbed/node-base:$NODE_VERSION}"
STAGE=.cache/images/link-agent-tools
DOCKER=(docker)
[ -x /usr/bin/docker ] && DOCKER=(/usr/bin/docker)
export DOCKER_BUILDKIT=1
log() { printf '[link-agent image] %s\n' "$*" >&2; }

mode="${MEC_IMAGE_BASE:-}"
if [ -z "$mode" ]; then
  if "${DOCKER[@]}" image inspect "$NODE_BASE_IMAGE" >/dev/null 2>&1 \
    || "${DOCKER[@]}" pull -q "$NODE_BASE_IMAGE" >/dev/null 2>&1; then mode=official; else mode=local; fi
fi
if [ "$mode" = official ]; then
  log "building mec-testbed/link-agent:$TAG on $NODE_BASE_IMAGE (iproute2 from Debian, npm ci in the build)"
  "${DOCKER[@]}" build -q -f services/link-agent/Dockerfile -t "mec-testbed/link-agent:$TAG" \
    --build-arg "BASE_IMAGE=$NODE_BASE_IMAGE" . >/dev/null
  "${DOCKER[@]}" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^mec-testbed/link-agent:$TAG " >&2
  exit 0
fi

if ! "${DOCKER[@]}" image inspect "$BASE_IMAGE" >/dev/null 2>&1 || [ ! -d "$CACHE_DIR/images/node-base-$NODE_VERSION/rootfs" ]; then
  log "base $BASE_IMAGE missing: running hack/images/build.sh"
  MEC_IMAGE_BASE=local hack/images/build.sh
fi

# tc and ip from Debian's iproute2 (installed on demand), the libraries ldd lists (the base already has libc
# and the loader; copying the same files again is harmless), and the distribution tables.
if ! dpkg -s iproute2 >/dev/null 2>&1; then
  log 'installing iproute2 (Debian)'
  apt-get install -y --no-install-recommends iproute2 >/dev/null
fi
rm -rf "$STAGE" && mkdir -p "$STAGE/rootfs/usr/sbin"
for tool in tc ip; do
  src=$(command -v "$tool")
  cp -L "$src" "$STAGE/rootfs/usr/sbin/$tool"
  ldd "$src" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
    mkdir -p "$STAGE/rootfs$(dirname "$lib")"
    cp -L "$lib" "$STAGE/rootfs$lib"
  done
done
distdir=$(dpkg -L iproute2 | grep -E '/tc/normal\.dist$' | xargs dirname)
mkdir -p "$STAGE/rootfs$distdir"
cp "$distdir"/*.dist "$STAGE/rootfs$distdir/"
[ -d /etc/iproute2 ] && mkdir -p "$STAGE/rootfs/etc" && cp -r /etc/iproute2 "$STAGE/rootfs/etc/"
iproute2_version=$(dpkg-query -W -f '${Version}' iproute2)
log "staged tc and ip from iproute2 $iproute2_version, tables from $distdir"

# The agent's npm workspace and the CLI's (cli-in-docker.sh runs the CLI in this image).
hack/images/stage-deps.sh link-agent "$CACHE_DIR/images/node-base-$NODE_VERSION/rootfs" services/link-agent services/cli

log "building mec-testbed/link-agent:$TAG (base $BASE_IMAGE)"
"${DOCKER[@]}" build -q -f services/link-agent/Dockerfile -t "mec-testbed/link-agent:$TAG" \
  --label "dev.mec-testbed.iproute2=$iproute2_version" \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg TOOLS_FROM=host --build-arg DEPS_FROM=host . >/dev/null
"${DOCKER[@]}" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^mec-testbed/link-agent:$TAG " >&2
