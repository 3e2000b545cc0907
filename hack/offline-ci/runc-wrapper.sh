#!/usr/bin/env bash
# The private Docker engine's default runtime: runc, minus the capabilities this machine's root does not hold.
# Docker gives a --privileged container (kind's nodes) every capability the kernel knows, but root here lacks
# some (CAP_SYS_RESOURCE: no bit 24 in CapBnd), so runc fails with "unable to apply caps: operation not
# permitted" — for `docker run --privileged` and for `docker exec` into such a container alike. This wrapper
# removes from the container's spec (create/run: <bundle>/config.json; exec: the --process file) every
# capability outside this process's bounding set, then runs the real runc with the same arguments.
set -euo pipefail
runc=${MEC_KIND_REAL_RUNC:-/usr/sbin/runc}

# Capability names by bit number (linux/capability.h).
names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
  NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
  SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
  AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
  PERFMON BPF CHECKPOINT_RESTORE)
bounding=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
missing=()
for i in "${!names[@]}"; do
  ((bounding >> i & 1)) || missing+=("\"CAP_${names[i]}\"")
done

strip() { # file, jq path of the capabilities object
  local file=$1 path=$2 list tmp
  [[ -f $file && ${#missing[@]} -gt 0 ]] || return 0
  list=$(IFS=,; echo "${missing[*]}")
  tmp=$(mktemp "$file.XXXXXX")
  jq --argjson drop "[$list]" "if $path then $path |= with_entries(.value |= ((. // []) - \$drop)) else . end" \
    "$file" >"$tmp"
  chmod --reference="$file" "$tmp"
  mv "$tmp" "$file"
}

command="" bundle="." process=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  a=${args[i]}
  case $a in
    create | run | exec) [[ -z $command ]] && command=$a ;;
    --bundle | -b) bundle=${args[i + 1]} ;;
    --bundle=*) bundle=${a#--bundle=} ;;
    --process | -p) process=${args[i + 1]} ;;
    --process=*) process=${a#--process=} ;;
  esac
done
case $command in
  create | run) strip "$bundle/config.json" .process.capabilities ;;
  exec) [[ -n $process ]] && strip "$process" .capabilities ;;
esac
exec "$runc" "$@"
