#!/usr/bin/env bash
# Builds mec-testbed/link-agent:dev where no image can be pulled: stages Debian's iproute2 tools and the agent's
# production node_modules under .cache/images/link-agent/, then builds services/link-agent/Dockerfile on the
# local Node base (made by hack/images/build.sh when missing).
#   services/link-agent/image/build.sh          (IMAGE_TAG=dev by default)
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=/dev/null
source versions.env
TAG="${IMAGE_TAG:-dev}"
BASE_IMAGE="${BASE_IMAGE:-mec-testbed/node-base:$NODE_VERSION}"
STAGE=.cache/images/link-agent
DOCKER=(docker)
[ -x /usr/bin/docker ] && DOCKER=(/usr/bin/docker)
export DOCKER_BUILDKIT=1
log() { printf '[link-agent image] %s\n' "$*" >&2; }

if ! "${DOCKER[@]}" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "base $BASE_IMAGE missing: running hack/images/build.sh"
  hack/images/build.sh
fi

# tc and ip from Debian's iproute2 (installed on demand), the libraries ldd lists (the base already has libc
# and the loader; copying the same files again is harmless), and the distribution tables.
if ! dpkg -s iproute2 >/dev/null 2>&1; then
  log 'installing iproute2 (Debian)'
  apt-get install -y --no-install-recommends iproute2 >/dev/null
fi
rm -rf "$STAGE/tools" && mkdir -p "$STAGE/tools/rootfs/usr/sbin"
for tool in tc ip; do
  src=$(command -v "$tool")
  cp -L "$src" "$STAGE/tools/rootfs/usr/sbin/$tool"
  ldd "$src" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
    mkdir -p "$STAGE/tools/rootfs$(dirname "$lib")"
    cp -L "$lib" "$STAGE/tools/rootfs$lib"
  done
done
distdir=$(dpkg -L iproute2 | grep -E '/tc/normal\.dist$' | xargs dirname)
mkdir -p "$STAGE/tools/rootfs$distdir"
cp "$distdir"/*.dist "$STAGE/tools/rootfs$distdir/"
[ -d /etc/iproute2 ] && mkdir -p "$STAGE/tools/rootfs/etc" && cp -r /etc/iproute2 "$STAGE/tools/rootfs/etc/"
iproute2_version=$(dpkg-query -W -f '${Version}' iproute2)
log "staged tc and ip from iproute2 $iproute2_version, tables from $distdir"

# Production node_modules, pruned to the agent's runtime closure; redone when the lockfile changes.
stamp=$(cat package.json package-lock.json services/link-agent/image/prune-deps.ts hack/images/prune-node-modules.ts | sha256sum | cut -c1-16)
if [ ! -f "$STAGE/deps/.stamp" ] || [ "$(cat "$STAGE/deps/.stamp")" != "$stamp" ]; then
  log 'npm ci --omit=dev'
  rm -rf "$STAGE/deps" && mkdir -p "$STAGE/deps"
  cp package.json package-lock.json "$STAGE/deps/"
  (cd "$STAGE/deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  node services/link-agent/image/prune-deps.ts "$STAGE/deps" >&2
  echo "$stamp" >"$STAGE/deps/.stamp"
fi

log "building mec-testbed/link-agent:$TAG (base $BASE_IMAGE)"
"${DOCKER[@]}" build -q -f services/link-agent/Dockerfile -t "mec-testbed/link-agent:$TAG" \
  --label "dev.mec-testbed.iproute2=$iproute2_version" \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" . >/dev/null
"${DOCKER[@]}" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^mec-testbed/link-agent:$TAG " >&2
