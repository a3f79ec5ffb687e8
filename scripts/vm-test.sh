#!/usr/bin/env bash
# Runs kernel tests inside a VM that boots Debian's own kernel, which has what this project's
# machines lack (netem, 802.1Q, VLAN-filtering bridges) as modules.
#
#   scripts/vm-test.sh [FILTER…]          the test binary with these --filter regexes
#                                         (default: the netem and VLAN kernel tests, and a sanity one)
#   scripts/vm-test.sh --exec 'COMMAND'   any shell command, in the worktree, as root inside the VM
#
# Options: --no-build (run .build/debug as it is; --exec never builds), --accel LIST (tried in
# order until one boots: kvm, tcg or kvm,tcg; default kvm,tcg when the CPU shows vmx/svm, else tcg).
# Environment: NSLAB_VM_TIMEOUT (seconds for the whole VM run, default 2400),
# NSLAB_VM_BOOT_TIMEOUT (seconds to reach the VM's init, default 120), NSLAB_VM_MEMORY (default
# 3G), NSLAB_VM_CPUS (default 2).
#
# The VM has no network device (-nic none). It sees the machine's root filesystem read-only over
# virtio 9p, under a tmpfs overlay: everything it writes (namespaces, /etc/netns, /run) is gone
# when it powers off. Its own /run, /tmp, /dev, /proc, /sys; the host's userspace (iproute2,
# tcpdump, Swift in /opt/swift, this worktree's .build). The command's exit status is the
# script's; its output is on stdout and in .build/vm/out/console.log, swift-testing's XUnit report
# in .build/vm/out/results.xml.
#
# Cached under .build/vm (gitignored): the kernel package and its extracted tree, the initramfs.
# Installs qemu-system-x86 and busybox-static (no recommends) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
vm=$repo/.build/vm
timeout_s=${NSLAB_VM_TIMEOUT:-2400}
memory=${NSLAB_VM_MEMORY:-3G}
cpus=${NSLAB_VM_CPUS:-2}
build=1
accel=auto
exec_command=
filters=()
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) build=0 ;;
    --accel) accel=$2; shift ;;
    --exec) exec_command=$2; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) filters+=("$1") ;;
  esac
  shift
done
if [ ${#filters[@]} -eq 0 ]; then
  # The tests that skip on a kernel without netem or 802.1Q, their suites, and one plain deploy.
  filters=(LinkControlTests NetemDistributionTests Layer2LabTests scriptBuildsVLANsAsDeployDoes
           routersLabForwardsAcrossTwoRouters)
fi
[ "$(id -u)" -eq 0 ] || { echo "vm-test: needs root (qemu, dpkg -x of a kernel package)" >&2; exit 2; }

mkdir -p "$vm"
exec 9> "$vm/lock"
flock -n 9 || { echo "vm-test: another run is using $vm; one at a time per worktree" >&2; exit 2; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "vm-test: $*" >&2; }

# 1. Tools: qemu without its GUI recommends, a static busybox for the initramfs.
t=$(now)
needed=()
command -v qemu-system-x86_64 >/dev/null || needed+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || needed+=(busybox-static)
if [ ${#needed[@]} -gt 0 ]; then
  say "installing ${needed[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi
say "tools ready ($(elapsed "$t") s)"

# 2. Debian's kernel, downloaded and unpacked, never installed: the host's boot is untouched.
t=$(now)
package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }') || true
if [ -z "$package" ]; then
  apt-get update -qq
  package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
release=${package#linux-image-}               # 6.1.0-56-amd64
kernel=$vm/kernel/$package
if [ ! -e "$kernel/.done" ]; then
  say "downloading $package"
  rm -rf "$vm/deb" "$vm/kernel"
  mkdir -p "$vm/deb" "$vm/kernel"
  (cd "$vm/deb" && apt-get download -q "$package" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
  deb=$(ls "$vm"/deb/"$package"_*.deb)
  dpkg -x "$deb" "$kernel"
  rm -rf "$vm/deb"
  # busybox's depmod: modules.dep and modules.alias for busybox's modprobe in the VM.
  busybox depmod -b "$kernel" "$release"
  touch "$kernel/.done"
fi
modules=$kernel/lib/modules/$release
say "kernel $release ready ($(elapsed "$t") s)"

# 3. The initramfs: busybox, /init, and the modules needed to mount the host's root (the rest
# are loaded from the host's copy once it is mounted). Rebuilt when this script or the kernel changes.
t=$(now)
stamp=$( { cat "$0"; echo "$release"; } | sha256sum | cut -c1-16)
initramfs=$vm/initramfs-$stamp.cpio.gz
if [ ! -e "$initramfs" ]; then
  say "building the initramfs"
  rm -f "$vm"/initramfs-*.cpio.gz
  root=$vm/initramfs.d
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,host,out,newroot,rw,lib/modules/"$release"}
  cp "$(command -v busybox)" "$root/bin/busybox"
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    line=$(grep -E "(^|/)$m\.ko(\.xz)?:" "$modules/modules.dep")
    for path in ${line/:/}; do
      mkdir -p "$root/lib/modules/$release/$(dirname "$path")"
      cp "$modules/$path" "$root/lib/modules/$release/$path"
    done
  done
  cp "$modules"/modules.{dep,alias,symbols} "$root/lib/modules/$release/"
  cat > "$root/init" <<'INIT'
#!/bin/busybox sh
# nslab's VM init: the host's root read-only over 9p under a tmpfs overlay, then the command.
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "vm-init: $*"; echo "NSLAB-VM-EXIT 125"; poweroff -f; }
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
# Modules the kernel asks for (rtnl-link-vlan, sch_netem, …) come from busybox's modprobe.
echo /sbin/modprobe > /proc/sys/kernel/modprobe
for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe $m || fail "modprobe $m"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /host || fail "mount the host's root"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || fail "mount the output directory"
: > /out/booted
# Every module of the kernel, from the host's copy of the package.
mount --bind "/host$(arg nslabvm.modules)" /lib/modules || fail "bind the modules"
# Loaded ahead so that tests see them in /sys/module (Debian's kernel has no /proc/config.gz).
for m in veth bridge 8021q sch_netem sch_tbf inet_diag tcp_diag udp_diag; do modprobe $m || echo "vm-init: modprobe $m failed"; done
# A writable root: the host's files below, a tmpfs above.
mount -t tmpfs -o size=75% rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "overlay"
n=/newroot
mount -t proc proc $n/proc
mount -t sysfs sysfs $n/sys
mount -t cgroup2 cgroup2 $n/sys/fs/cgroup 2>/dev/null || true
mount -t devtmpfs devtmpfs $n/dev
mkdir -p $n/dev/pts $n/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $n/dev/pts
mount -t tmpfs tmpfs $n/dev/shm
# The worktree may itself be under /tmp or /run (a CI clone): kept visible through the fresh ones.
dir=$(cat /out/dir)
case "$dir" in /tmp/*|/run/*) mkdir -p /keep && mount --bind "$n$dir" /keep || fail "bind the worktree" ;; esac
mount -t tmpfs -o mode=755 tmpfs $n/run
mount -t tmpfs -o mode=1777 tmpfs $n/tmp
case "$dir" in /tmp/*|/run/*) mkdir -p "$n$dir" && mount --bind /keep "$n$dir" || fail "bind the worktree back" ;; esac
mkdir -p $n/run/vm $n/run/lock
mount --bind /out $n/run/vm
# A fresh machine: none of the host's per-namespace /etc files (the overlay hides them, the host keeps them).
rm -rf $n/etc/netns
hostname nslab-vm
ip link set lo up
echo "vm-init: $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s, $(grep -c ^processor /proc/cpuinfo) cpus, $(dmesg | grep -o 'Hypervisor detected: .*' | head -1)"
chroot $n /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  NSLAB_VM=1 /bin/sh -c 'cd "$(cat /run/vm/dir)" && . /run/vm/command.sh' < /dev/console > /dev/console 2>&1
status=$?
echo $status > /out/status
echo "vm-init: the command ended after $(cut -d' ' -f1 /proc/uptime) s of uptime"
echo "NSLAB-VM-EXIT $status"
sync
umount /out 2>/dev/null
poweroff -f
INIT
  chmod 755 "$root/init"
  (cd "$root" && find . | sort | busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$initramfs.tmp")
  mv "$initramfs.tmp" "$initramfs"
  rm -rf "$root"
fi
say "initramfs ready ($(elapsed "$t") s)"

# 4. What the VM runs.
t=$(now)
if [ -z "$exec_command" ] && [ $build -eq 1 ]; then
  say "swift build --build-tests (log: $vm/build.log)"
  mkdir -p "$vm"
  swift build --build-tests > "$vm/build.log" 2>&1 || { tail -30 "$vm/build.log" >&2; exit 2; }
fi
say "build ready ($(elapsed "$t") s)"
out=$vm/out
rm -rf "$out"
mkdir -p "$out"
echo "$repo" > "$out/dir"
if [ -n "$exec_command" ]; then
  printf '%s\n' "$exec_command" > "$out/command.sh"
else
  {
    printf '.build/debug/nslabPackageTests.xctest --testing-library swift-testing --xunit-output /run/vm/results.xml'
    for f in "${filters[@]}"; do printf " --filter %q" "$f"; done
    echo
  } > "$out/command.sh"
fi

# 5. Boot, with a watchdog on the first sign of the VM's init: KVM (tried first when the CPU
# shows vmx or svm) can exist and still hang a guest, as /dev/kvm does on this project's machines,
# whose CPUs show neither; then TCG, the same machine emulated (slower, always there).
if [ "$accel" = auto ]; then
  accel=tcg
  if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm,tcg; fi
fi
boot() {  # ACCEL: 0 when the VM's init mounted the output share (it writes "booted" there), 1 when not in time
  local cpu=max boot_wait=${NSLAB_VM_BOOT_TIMEOUT:-120} pipeline i
  [ "$1" = kvm ] && cpu=host
  say "booting ($1, $cpus cpus, $memory, timeout ${timeout_s} s): $(cat "$out/command.sh")"
  rm -f "$out/status" "$out/qemu.pid" "$out/booted" "$out/console.log"
  timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
    -accel "$1" -cpu "$cpu" -smp "$cpus" -m "$memory" \
    -nodefaults -no-user-config -display none -nic none -no-reboot \
    -serial stdio -monitor none -pidfile "$out/qemu.pid" \
    -kernel "$kernel/boot/vmlinuz-$release" -initrd "$initramfs" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 nslabvm.modules=$kernel/lib/modules" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
    -virtfs local,path="$out",mount_tag=out,security_model=passthrough \
    < /dev/null 2>&1 | stdbuf -oL tr -d '\r' | tee "$out/console.log" &
  pipeline=$!
  for ((i = 0; i < boot_wait * 2; i++)); do
    [ -e "$out/booted" ] && break
    kill -0 "$pipeline" 2>/dev/null || break
    sleep 0.5
  done
  if [ ! -e "$out/booted" ]; then
    stop_vm
    wait "$pipeline" || true
    say "$1: the VM did not reach its init within ${boot_wait} s"
    return 1
  fi
  wait "$pipeline" || true
}
# Ctrl-C or a kill of this script ends the VM too (qemu runs in the background for the watchdog).
stop_vm() {
  local pid
  pid=$(cat "$out/qemu.pid" 2>/dev/null) || return 0
  grep -q qemu-system "/proc/$pid/cmdline" 2>/dev/null && kill "$pid" 2>/dev/null
  return 0
}
trap 'stop_vm' EXIT
trap 'stop_vm; exit 130' INT
trap 'stop_vm; exit 143' TERM
t=$(now)
booted=0
for a in ${accel//,/ }; do
  if boot "$a"; then booted=1; break; fi
done
vm_seconds=$(elapsed "$t")
status=$(cat "$out/status" 2>/dev/null || sed -n 's/^NSLAB-VM-EXIT \([0-9]*\).*/\1/p' "$out/console.log" | tail -1)
if [ $booted -eq 0 ] || [ -z "$status" ]; then
  say "no exit status from the VM after $vm_seconds s (it did not boot, crashed, or hit the ${timeout_s} s timeout): see $out/console.log"
  exit 124
fi
if [ -z "$exec_command" ] && [ -s "$out/results.xml" ]; then
  # Each test case once: passed, FAILED or skipped (with the reason).
  awk '
    /<testcase / { match($0, /classname="[^"]*"/); c = substr($0, RSTART + 11, RLENGTH - 12)
                   match($0, / name="[^"]*"/); n = substr($0, RSTART + 7, RLENGTH - 8); r = "passed"; why = "" }
    /<failure/ { r = "FAILED" }
    /<skipped>/ { r = "skipped"; why = $0; sub(/.*<skipped>/, "", why); sub(/<\/skipped>.*/, "", why); why = "  (" why ")" }
    /<\/testcase>|<testcase .*\/>/ { if (n != "") { printf "  %-7s %s.%s%s\n", r, c, n, why; count[r]++ }; n = "" }
    END { printf "  %d passed, %d failed, %d skipped\n", count["passed"], count["FAILED"], count["skipped"] }
  ' "$out/results.xml" | sed "s/&#39;/'/g; s/&quot;/\"/g; s/&amp;/\&/g" >&2
fi
say "VM run: $vm_seconds s; exit status $status"
exit "$status"
