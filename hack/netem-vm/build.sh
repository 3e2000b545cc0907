#!/usr/bin/env bash
# Builds the netem VM's base: a stock Debian kernel (the current linux-image-amd64, resolved at run time, as an
# uncompressed vmlinux) and an initramfs holding busybox, iputils' ping, Debian's tc and ip with their libraries
# and netem's distribution tables, the kernel modules the sites need (netem, htb, u32, tbf, ingress, veth, bridge,
# the NIC) and Node. Cached under $CACHE_DIR/netem-vm/base-<key>, keyed by the content of every input; prints
# that directory.
#   hack/netem-vm/build.sh          (about 15 s cold plus the 70 MB kernel download; cached: instant)
# The application (the link agent and the guest controller) is packed per run by app.ts, beside this base.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=/dev/null
source versions.env
CACHE_DIR="${MEC_CACHE_DIR:-${CACHE_DIR:-$HOME/.cache/mec-testbed}}"
root="$CACHE_DIR/netem-vm"
log() { printf '[netem-vm] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
trap 'log "error: failed at line $LINENO: $BASH_COMMAND"' ERR
# Modules the guest loads; their dependencies are added from each module's own `depends=` field.
MODULES=(e1000 veth bridge sch_netem sch_htb sch_tbf sch_ingress cls_u32)

# --- Debian packages this script reads on the host (and qemu, which the runner needs).
need=()
for pkg in busybox-static iproute2 cpio xz-utils qemu-system-x86; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if ((${#need[@]})); then
  [ "$(id -u)" = 0 ] || die "missing Debian packages ${need[*]}: sudo apt-get install --no-install-recommends ${need[*]}"
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

# --- The kernel: linux-image-amd64 depends on the current ABI's package (point releases rename it).
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
[ -n "$kpkg" ] || die "apt-cache does not know linux-image-amd64: run apt-get update (Debian's main archive must be configured)"
kver=$(apt-cache show --no-all-versions "$kpkg" | sed -n 's/^Version: //p' | head -1)
[ -n "$kver" ] || die "apt-cache has no version of $kpkg"

# iputils' ping, unpacked here rather than installed: it timestamps replies in the kernel (SO_TIMESTAMP), so a
# guest process waking late does not count as delay, which busybox's ping cannot avoid.
pver=$(apt-cache show --no-all-versions iputils-ping | sed -n 's/^Version: //p' | head -1)
[ -n "$pver" ] || die "apt-cache has no iputils-ping"

node_bin="$(hack/images/node-binary.sh)/node"
inputs=$(
  printf '%s\n' "kernel $kpkg $kver" "iputils-ping $pver" "modules ${MODULES[*]}" "node $NODE_VERSION"
  for pkg in busybox-static iproute2; do echo "$pkg $(dpkg-query -W -f '${Version}' "$pkg")"; done
  cat hack/netem-vm/build.sh hack/netem-vm/guest/init
)
key=$(printf '%s' "$inputs" | sha256sum | cut -c1-16)
out="$root/base-$key"
if [ -f "$out/done" ]; then
  echo "$out"
  exit 0
fi

debs="$root/debs"
mkdir -p "$debs"
fetch() { # package version → prints the cached .deb (older versions of the package are removed)
  local deb="$debs/${1}_${2//:/%3a}_amd64.deb" tmp
  if [ ! -f "$deb" ]; then
    log "downloading $1 $2"
    tmp=$(mktemp -d "$debs/.download.XXXXXX")
    (cd "$tmp" && apt-get -o APT::Sandbox::User=root download -q "$1=$2" >/dev/null)
    mv "$tmp"/*.deb "$deb"
    rmdir "$tmp"
    find "$debs" -name "${1}_*.deb" ! -name "$(basename "$deb")" -delete
  fi
  echo "$deb"
}
deb=$(fetch "$kpkg" "$kver")
pingdeb=$(fetch iputils-ping "$pver")

log "assembling the initramfs for $kpkg $kver (key $key)"
work=$(mktemp -d "$root/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/kernel" "$work/rootfs"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*' './lib/modules/*.ko'
kdir=$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -1)
fs="$work/rootfs"
mkdir -p "$fs"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,lib/modules,usr/sbin}
chmod 1777 "$fs/tmp"

# Modules in load order: each one after what its `depends=` names (bookworm's are uncompressed: plain insmod).
declare -A path_of=()
while read -r ko; do
  name=$(basename "$ko" .ko)
  path_of[${name//-/_}]=$ko
done < <(find "$kdir" -name '*.ko')
order=()
declare -A placed=()
place() {
  local m=${1//-/_} dep
  [ -n "${placed[$m]:-}" ] && return
  [ -n "${path_of[$m]:-}" ] || die "module $m is not in $kpkg"
  placed[$m]=1
  for dep in $(tr '\0' '\n' <"${path_of[$m]}" | sed -n 's/^depends=//p' | tr ',' ' '); do place "$dep"; done
  order+=("$m")
}
for m in "${MODULES[@]}"; do place "$m"; done
for m in "${order[@]}"; do cp "${path_of[$m]}" "$fs/lib/modules/$m.ko"; done
printf '%s\n' "${order[@]}" >"$fs/lib/modules/load-order"
# The uncompressed ELF kernel: qemu boots it through its PVH entry (CONFIG_PVH), which skips the firmware's
# loader and the kernel's own xz decompression, together 10-15 s under TCG.
vmlinuz=$(find "$work/kernel/boot" -name 'vmlinuz-*' | head -1)
xz_at=$(LC_ALL=C grep -obUa $'\xfd7zXZ' "$vmlinuz" | head -1 | cut -d: -f1)
[ -n "$xz_at" ] || die "$vmlinuz holds no xz stream (Debian's kernels are xz-compressed): cannot extract vmlinux"
# (xz stops after the stream; reading from a process substitution keeps tail's SIGPIPE out of pipefail.)
xz -dc --single-stream < <(tail -c +$((xz_at + 1)) "$vmlinuz") >"$work/vmlinux"
[ "$(head -c 4 "$work/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] || die "the kernel extracted from $vmlinuz is not an ELF file"

# busybox for the shell and its tools (its own ip/tc applets are not iproute2's: the guest calls /sbin/ip, /sbin/tc).
cp /bin/busybox "$fs/bin/busybox"
for applet in $("$fs/bin/busybox" --list); do
  case $applet in ip | tc | busybox) ;; *) ln -sf busybox "$fs/bin/$applet" ;; esac
done
# iproute2's tc and ip, the libraries ldd lists, netem's distribution tables (distribution normal reads them).
copy_with_libs() {
  local src=$1 dest=$2 lib
  cp -L "$src" "$fs$dest"
  ldd "$src" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
    mkdir -p "$fs$(dirname "$lib")"
    cp -L "$lib" "$fs$lib"
  done
}
mkdir -p "$work/iputils" "$fs/usr/bin"
dpkg-deb -x "$pingdeb" "$work/iputils"
copy_with_libs "$work/iputils/bin/ping" /usr/bin/ping
copy_with_libs "$(command -v tc)" /sbin/tc
copy_with_libs "$(command -v ip)" /sbin/ip
distdir=$(dpkg -L iproute2 | grep -E '/tc/normal\.dist$' | xargs dirname)
mkdir -p "$fs$distdir" && cp "$distdir"/*.dist "$fs$distdir/"
[ -d /etc/iproute2 ] && cp -r /etc/iproute2 "$fs/etc/"
# Node, stripped (symbols are a fifth of the binary and unused at run time).
mkdir -p "$fs/usr/local/bin"
copy_with_libs "$node_bin" /usr/local/bin/node
strip --strip-unneeded "$fs/usr/local/bin/node" 2>/dev/null || true
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$fs/etc/passwd"
printf 'root:x:0:\n' >"$fs/etc/group"
printf '127.0.0.1 localhost\n' >"$fs/etc/hosts"
install -m 0755 hack/netem-vm/guest/init "$fs/init"

# Uncompressed: under TCG the guest inflates gzip at a few tens of MB/s, a plain cpio is only copied.
(cd "$fs" && find . -print0 | cpio --null -o -H newc --quiet) >"$work/base.cpio"
printf '%s\n' "$inputs" | head -5 >"$work/inputs"
mkdir -p "$out"
mv "$work/vmlinux" "$work/base.cpio" "$work/inputs" "$out/"
touch "$out/done"
# Bases of earlier keys: remove them, one base is enough.
find "$root" -mindepth 1 -maxdepth 1 -type d -name 'base-*' ! -name "base-$key" -exec rm -rf {} +
log "base ready: $out ($(du -sh "$out/base.cpio" | cut -f1) initramfs, modules: ${order[*]})"
echo "$out"
