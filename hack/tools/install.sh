#!/usr/bin/env bash
# Installs a pinned tool into ./bin with a versioned name (bin/<tool>-<version>) and a stable link (bin/<tool>),
# after checking its sha256 against hack/tools/sha256sums.txt. Usage: hack/tools/install.sh kind|kubectl
# Versions come from versions.env. Prints the installed path. Idempotent: an installed, verified binary is kept.
# MEC_TOOLS_DRY_RUN=1 prints what it would download instead (used by the tests; no network).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../versions.env
source "$root/versions.env"
tool="${1:?usage: hack/tools/install.sh kind|kubectl}"

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "install.sh: unsupported OS $(uname -s): kind and kubectl are installed for Linux and macOS only" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install.sh: unsupported CPU $(uname -m): amd64 or arm64 only" >&2; exit 1 ;;
esac

case "$tool" in
  kind)
    version="$KIND_VERSION"
    url="https://github.com/kubernetes-sigs/kind/releases/download/${version}/kind-${os}-${arch}"
    ;;
  kubectl)
    version="$KUBECTL_VERSION"
    url="https://dl.k8s.io/release/${version}/bin/${os}/${arch}/kubectl"
    ;;
  *) echo "install.sh: unknown tool '$tool' (kind or kubectl)" >&2; exit 2 ;;
esac

asset="${tool}-${version}-${os}-${arch}"
want="$(awk -v a="$asset" '$2 == a { print $1 }' "$root/hack/tools/sha256sums.txt")"
if [ -z "$want" ]; then
  echo "install.sh: no sha256 for $asset in hack/tools/sha256sums.txt; add the release's published sum before bumping the version" >&2
  exit 1
fi

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'; else shasum -a 256 "$1" | awk '{print $1}'; fi
}

bin="$root/bin"
target="$bin/${tool}-${version}"
if [ "${MEC_TOOLS_DRY_RUN:-}" = 1 ]; then
  echo "would download $url to $target and check sha256 $want"
  exit 0
fi
mkdir -p "$bin"
if [ ! -x "$target" ] || [ "$(sha256 "$target")" != "$want" ]; then
  echo "installing $tool $version ($os/$arch) into bin/" >&2
  tmp="$(mktemp "$bin/.${tool}.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  if ! err=$(curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --retry 3 -o "$tmp" "$url" 2>&1); then
    var=$(tr '[:lower:]' '[:upper:]' <<<"$tool")
    err=$(printf '%s\n' "$err" | tail -1)
    echo "install.sh: could not download $tool $version from $url (${err#curl: }). Without a network, put $tool $version on PATH or pass $var=/path/to/$tool to make." >&2
    exit 1
  fi
  got="$(sha256 "$tmp")"
  if [ "$got" != "$want" ]; then
    echo "install.sh: sha256 mismatch for $url: got $got, expected $want (download corrupted or the release changed); nothing installed" >&2
    exit 1
  fi
  chmod 0755 "$tmp"
  mv "$tmp" "$target"
  trap - EXIT
fi
ln -sf "${tool}-${version}" "$bin/$tool"
echo "$target"
