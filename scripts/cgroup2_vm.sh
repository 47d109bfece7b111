#!/usr/bin/env bash
# cgroup2_vm.sh - run ONE command on a throw-away cgroup-v2-only Linux, inside a QEMU VM.
#
# Why: this machine's cgroups are a v1 hybrid that must never be remounted, but the servers the
# autograder targets (Debian 12, Ubuntu 22.04+, RHEL 9) are cgroup v2 only. The VM boots a Debian
# kernel with cgroup_no_v1=all and sees the host's root filesystem read-only (virtio-9p) under a
# tmpfs-backed overlay, so the command runs against this checkout and its venvs, may write anywhere,
# and every write is lost at power-off: the host is never modified by the guest.
#
# Usage: scripts/cgroup2_vm.sh [--mem MB] [--cpus N] [--timeout S] [--env NAME=VALUE]... -- COMMAND...
#   --mem MB       guest RAM, default 2048        (or AUTOGRADER_VM_MEM)
#   --cpus N       guest vCPUs, default 2         (or AUTOGRADER_VM_CPUS)
#   --timeout S    wall-clock limit on qemu, default 1800 (or AUTOGRADER_VM_TIMEOUT); exit 124 when hit
#   --env N=V      extra variable for the command (repeatable)
#   --cgroup PATH  start the command in /sys/fs/cgroup/PATH (created, with +cpu +memory +pids enabled
#                  on the way down) instead of the root cgroup, like a systemd unit with Delegate=yes
# The command runs as root in the guest, in the caller's working directory, with stdin /dev/null,
# env: PATH (standard), HOME=/root, LANG=C.UTF-8, every caller variable named AUTOGRADER_* or
# PYTEST*, and the --env ones. Its stdout/stderr reach the host's stdout/stderr; the script exits
# with its exit status. Infrastructure failures exit 125 and print the guest console.
# AUTOGRADER_VM_CACHE (default /var/cache/autograder-vm) holds the kernel + initramfs (~70 MB);
# AUTOGRADER_VM_VERBOSE=1 copies the guest console to stderr.
# Needs: apt-get install -y qemu-system-x86 busybox-static ; the first run also needs `apt-get
# download` of a linux-image package (about 70 MB, deleted after extraction).
# Guest mounts: / overlay (9p host root ro + tmpfs), /proc, /sys, /sys/fs/cgroup (cgroup2,
# nsdelegate), /dev (devtmpfs), /dev/pts, /dev/shm, /tmp, /run (tmpfs). No network but loopback.
# KVM is deliberately not used: a KVM guest hangs on these machines, so this is TCG (slow CPU).
set -euo pipefail

MEM=${AUTOGRADER_VM_MEM:-2048} CPUS=${AUTOGRADER_VM_CPUS:-2} TIMEOUT=${AUTOGRADER_VM_TIMEOUT:-1800}
CACHE=${AUTOGRADER_VM_CACHE:-/var/cache/autograder-vm}
# 9p/virtio transport, its fs-cache helpers, and overlayfs; dependencies are added from modinfo.
MODULES="virtio_pci 9pnet_virtio 9p overlay"
ENVS=() CGROUP=
die() { echo "cgroup2_vm: $*" >&2; exit 125; }
while [ $# -gt 0 ]; do
  case $1 in
    --mem) MEM=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --cgroup) CGROUP=$2; shift 2 ;;
    --env) [[ $2 == *=* ]] || die "--env wants NAME=VALUE"; ENVS+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (usage: $0 [--mem MB] [--cpus N] [--timeout S] [--env N=V] [--cgroup P] -- CMD...)" ;;
  esac
done
[ $# -gt 0 ] || die "no command given (usage: $0 [options] -- COMMAND...)"
for v in "$MEM" "$CPUS" "$TIMEOUT"; do [[ $v =~ ^[0-9]+$ ]] || die "not a number: '$v'"; done

command -v qemu-system-x86_64 >/dev/null || die "qemu missing: apt-get install -y qemu-system-x86"
# The initramfs has no libc: only the statically linked busybox of busybox-static will do.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
  || die "busybox-static missing: apt-get install -y busybox-static"

# ---------------------------------------------------------------- guest init (PID 1, busybox sh)
# Stage 1 runs from the initramfs: load modules, build the overlay root, then switch_root into it.
# switch_root (not chroot) matters: the kernel refuses user namespaces (so bwrap) to a chrooted
# process. Stage 2 is PID 1 in the new root: runs the command, reports its status, powers off.
read -r -d '' INIT <<'EOF' || true
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /lower /rw /newroot
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "autograder-vm init: $*"; poweroff -f; }
mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.load); do insmod /lib/$m.ko || fail "insmod $m"; done
# cache=loose: the host tree is treated as unchanging while the VM runs, so the guest may cache
# dentries/attributes/pages; that is what makes Python imports over 9p bearable.
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose hostroot /lower \
  || fail "9p mount"
mount -t tmpfs -o mode=0755 rw /rw && mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work root /newroot \
  || fail "overlay mount"
cd /newroot
mount -t proc proc proc && mount -t sysfs sysfs sys && mount -t devtmpfs devtmpfs dev
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 sys/fs/cgroup \
  || mount -t cgroup2 cgroup2 sys/fs/cgroup || fail "cgroup2 mount"
mkdir -p dev/pts dev/shm && mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts dev/pts
mount -t tmpfs -o mode=1777 shm dev/shm && mount -t tmpfs -o mode=1777 tmp tmp
mount -t tmpfs -o mode=0755 run run && mkdir -p run/autograder-vm
run=$(sed -n 's/.* autograder_run=\([^ ]*\).*/\1/p' /proc/cmdline)
cp "/lower$run/run.sh" /bin/busybox /stage2 run/autograder-vm/ || fail "copy $run/run.sh"
echo 1 2>/dev/null >proc/sys/kernel/unprivileged_userns_clone
hostname cgroup2-vm; ip link set lo up
exec switch_root /newroot /run/autograder-vm/busybox sh /run/autograder-vm/stage2
EOF
read -r -d '' STAGE2 <<'EOF' || true
B=/run/autograder-vm/busybox
exec 3>/dev/ttyS1 4>/dev/ttyS2
$B stty -F /dev/ttyS1 raw -echo; $B stty -F /dev/ttyS2 raw -echo   # no \n -> \r\n
/bin/bash /run/autograder-vm/run.sh </dev/null >&3 2>&4
rc=$?
exec 3>&- 4>&-        # the last close of a serial port waits until its output is sent
echo "AUTOGRADER_VM_EXIT=$rc" >/dev/ttyS3
$B poweroff -f
EOF

# ---------------------------------------------------------------- cached kernel + initramfs
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"; flock 9         # concurrent first runs must not build the cache twice
KDIR=$CACHE/kernel
if [ ! -f "$KDIR/kernel" ]; then
  # The package that linux-image-amd64 points at (or AUTOGRADER_VM_KERNEL_PKG).
  pkg=${AUTOGRADER_VM_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')}
  [ -n "$pkg" ] || die "no linux-image package found (apt-cache search linux-image-6.1)"
  echo "cgroup2_vm: preparing $pkg in $CACHE (once)" >&2
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg") >&2 \
    || die "apt-get download $pkg failed"
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  kver=$(ls "$tmp/x/lib/modules"); mdir=$tmp/x/lib/modules/$kver
  mkdir -p "$tmp/k/lib"; declare -A seen=(); order=()
  add_mod() {  # post-order walk over modinfo "depends=" so dependencies load first
    local m=$1 f d
    [ -z "${seen[$m]:-}" ] || return 0; seen[$m]=1
    f=$(find "$mdir/kernel" -name "${m//[-_]/[-_]}.ko" | head -n1)
    [ -n "$f" ] || die "module $m not found in $pkg (compressed modules are not handled)"
    for d in $(grep -ao 'depends=[^[:cntrl:]]*' "$f" | head -n1 | cut -d= -f2 | tr , ' '); do
      add_mod "$d"
    done
    cp "$f" "$tmp/k/lib/$m.ko"; order+=("$m")
  }
  for m in $MODULES; do add_mod "$m"; done
  printf '%s\n' "${order[@]}" > "$tmp/k/modules.load"
  # Boot time: unpacking the xz-compressed bzImage takes ~3 s under TCG but 0.6 s here. So keep the
  # uncompressed ELF vmlinux (66 MB), which qemu boots directly through its PVH entry point.
  bz=$tmp/x/boot/vmlinuz-$kver
  off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$bz" | head -n1 | cut -d: -f1) || true
  if grep -q '^CONFIG_PVH=y' "$tmp/x/boot/config-$kver" && [ -n "$off" ] && command -v xz >/dev/null \
     && xz -dcq --single-stream < <(tail -c +$((off + 1)) "$bz") > "$tmp/k/kernel" \
     && [ "$(head -c 4 "$tmp/k/kernel")" = $'\x7fELF' ]; then :
  else cp "$bz" "$tmp/k/kernel"; fi   # fallback: the bzImage, slower to boot
  echo "$kver" > "$tmp/k/version"
  rm -rf "$KDIR"; mv "$tmp/k" "$KDIR"; rm -rf "$tmp"; trap - EXIT
fi
# The initramfs is rebuilt whenever the init scripts, module set or busybox change.
sum=$(printf '%s\n' "$INIT" "$STAGE2" "$(cat "$KDIR/modules.load" "$KDIR/version")" \
      "$(stat -c %s.%Y /bin/busybox)" | sha256sum | cut -c1-16)
INITRD=$CACHE/initrd-$sum.cpio   # uncompressed: less work for the emulated CPU
if [ ! -f "$INITRD" ]; then
  tmp=$(mktemp -d "$CACHE/tmp.XXXXXX"); trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/bin" && cp /bin/busybox "$tmp/bin/" && cp -r "$KDIR/lib" "$KDIR/modules.load" "$tmp/"
  printf '%s\n' "$INIT" > "$tmp/init"; printf '%s\n' "$STAGE2" > "$tmp/stage2"; chmod +x "$tmp/init"
  (cd "$tmp" && find . | busybox cpio -o -H newc 2>/dev/null) > "$tmp.cpio"
  rm -f "$CACHE"/initrd-*; mv "$tmp.cpio" "$INITRD"; rm -rf "$tmp"; trap - EXIT
fi
flock -u 9

# ---------------------------------------------------------------- per-run script, then boot
# The guest reads run.sh through the read-only 9p view of this host directory.
RUN=$(mktemp -d /tmp/cgroup2-vm.XXXXXX); trap 'rm -rf "$RUN"' EXIT
while IFS= read -r -d '' kv; do
  case ${kv%%=*} in AUTOGRADER_*|PYTEST*) ENVS+=("$kv") ;; esac
done < <(env -0)
{
  printf 'cd -- %q || { echo "cgroup2_vm: the working directory is not visible in the guest' "$PWD"
  printf ' (host /tmp, /run and /dev/shm are hidden by fresh tmpfs there)" >&2; exit 125; }\n'
  if [ -n "$CGROUP" ]; then   # enable the controllers at each level, then move this shell in
    printf 'g=/sys/fs/cgroup; for c in %s; do echo "+cpu +memory +pids" > "$g/cgroup.subtree_control"' \
      "$(printf '%q ' ${CGROUP//\// })"
    printf ' && g=$g/$c && mkdir -p "$g" || exit 125; done; echo $$ > "$g/cgroup.procs" || exit 125\n'
  fi
  printf 'exec env -i -- PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  printf ' HOME=/root LANG=C.UTF-8 TERM=dumb'
  for kv in "${ENVS[@]}"; do printf ' %q' "$kv"; done
  printf ' %q' "$@"; echo
} > "$RUN/run.sh"

# Serial ports: ttyS0 kernel console (a log file), ttyS1 command stdout (qemu's own stdout),
# ttyS2 command stderr, ttyS3 the exit-status line. stderr goes through a fifo and `cat`: qemu
# can only open a path, and reopening /proc/self/fd/2 would write at its own file offset.
mkfifo "$RUN/err"; cat "$RUN/err" >&2 & catpid=$!
# mitigations=off: no retpolines etc. in a throw-away guest (TCG's CPU already reports no Meltdown).
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp "$CPUS" -m "$MEM" \
  -nodefaults -no-user-config -display none -no-reboot \
  -kernel "$KDIR/kernel" -initrd "$INITRD" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off cgroup_no_v1=all rdinit=/init autograder_run=$RUN" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -chardev file,id=con,path="$RUN/console.log" -serial chardev:con \
  -chardev stdio,id=out -serial chardev:out \
  -chardev file,id=err,path="$RUN/err" -serial chardev:err \
  -chardev file,id=st,path="$RUN/status" -serial chardev:st \
  </dev/null & qpid=$!
# qemu runs in the background so that a signal to this script (Ctrl-C, a caller's timeout) reaches it:
# `timeout` has its own process group, and bash would run the trap only after a foreground child.
status=0 stopped=
trap 'stopped=1; kill -TERM "$qpid" 2>/dev/null || true' INT TERM HUP
while :; do wait "$qpid" && status=0 || status=$?; kill -0 "$qpid" 2>/dev/null || break; done
exec 8<>"$RUN/err"; exec 8>&-; wait "$catpid" || true   # (unblocks cat if qemu never opened it)
[ "${AUTOGRADER_VM_VERBOSE:-0}" = 1 ] && cat "$RUN/console.log" >&2
[ -n "$stopped" ] && { echo "cgroup2_vm: interrupted" >&2; exit 130; }
[ "$status" = 124 ] && { echo "cgroup2_vm: timed out after ${TIMEOUT}s" >&2; exit 124; }
rc=$(tr -d '\r' < "$RUN/status" | sed -n 's/^AUTOGRADER_VM_EXIT=\([0-9]*\)$/\1/p' | tail -n1)
if [ -z "$rc" ]; then
  echo "cgroup2_vm: no exit status from the guest (qemu exit $status); console:" >&2
  tail -n 40 "$RUN/console.log" >&2; exit 125
fi
exit "$rc"
