#!/usr/bin/env bash
# Simulated machines for labs spread over hosts, on one machine, for tests and demos.
#
# Each host is a network namespace and a mount namespace of its own: its own /run (so its own
# /run/netns, /run/nslab, /run/sshd) and its own /etc (an overlay on the machine's, so its own
# /etc/netns and /etc/ssh, the machine's own /etc/netns hidden), kept alive by an anchor process. The hosts are joined by an underlay
# switch (a bridge in a namespace of its own): host K has 192.0.2.K/24 and fd00:2::K/64 on its
# interface ul0. Each runs its own sshd on its underlay addresses, with a throwaway host key and a
# throwaway client key that every host's ssh uses (no host key checking: the keys live as long
# as the hosts). nslab is on every host's PATH (the directory given with NSLAB_DIR, default the
# release build of this checkout).
#
#   scripts/sim-hosts.sh up NAME N       hosts NAME-h1 … NAME-hN (NAME: letters, digits, '-')
#   scripts/sim-hosts.sh run HOST CMD…   CMD on HOST, as ssh would run it there
#   scripts/sim-hosts.sh stop-sshd HOST  end HOST's sshd (the host stays: a host ssh cannot reach)
#   scripts/sim-hosts.sh start-sshd HOST start it again
#   scripts/sim-hosts.sh down NAME       destroy every lab on every host, end every process, remove all
#
# Nothing of a host is visible from the machine but its network namespace NAME-hK, the underlay
# switch's NAME-ul, and the state directory /tmp/nslab-sim/NAME.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=/tmp/nslab-sim

usage() { sed -n '12,18p' "$0" >&2; exit 2; }

# The sim a host belongs to: its name without -hK.
sim_of() { echo "${1%-h*}"; }
anchor_of() { cat "$root/$(sim_of "$1")/$1/anchor"; }

run_on() {
  local host=$1; shift
  nsenter -t "$(anchor_of "$host")" -m -n --wd="$PWD" -- "$@"
}

start_sshd() {
  local host=$1 dir="$root/$(sim_of "$1")/$1"
  # -D in the background: its pid is what stop-sshd ends.
  nsenter -t "$(anchor_of "$host")" -m -n -- /usr/sbin/sshd -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/sshd"
  # Listening before anyone connects.
  for _ in $(seq 400); do
    run_on "$host" ss -Htln 'sport = :22' | grep -q . && return 0
    sleep 0.05
  done
  echo "sim-hosts: sshd of $host did not start; see $dir/sshd.log" >&2
  return 1
}

stop_sshd() {
  local dir="$root/$(sim_of "$1")/$1"
  [ -f "$dir/sshd" ] || return 0
  local pid; pid=$(cat "$dir/sshd")
  kill "$pid" 2>/dev/null || true
  # Ended processes may stay zombies here until PID 1 reaps them: gone means not running.
  for _ in $(seq 100); do
    [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "" ] && break
    [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ] && break
    sleep 0.05
  done
  rm -f "$dir/sshd"
}

up() {
  local name=$1 count=$2
  [[ $name =~ ^[a-z][a-z0-9-]{0,15}$ ]] || { echo "sim-hosts: NAME must be a lowercase letter then up to 15 letters, digits or '-'" >&2; exit 2; }
  local sim="$root/$name"
  [ -e "$sim" ] && { echo "sim-hosts: $name is up already ($sim); run: $0 down $name" >&2; exit 1; }
  local nslab_dir=${NSLAB_DIR:-$here/.build/release}
  [ -x "$nslab_dir/nslab" ] || { echo "sim-hosts: no nslab in $nslab_dir; build it (swift build -c release) or set NSLAB_DIR" >&2; exit 1; }
  mkdir -p "$sim"
  ssh-keygen -q -t ed25519 -N '' -f "$sim/client_key" -C "nslab-sim $name"
  ssh-keygen -q -t ed25519 -N '' -f "$sim/host_key" -C "nslab-sim $name host"
  cp "$sim/client_key.pub" "$sim/authorized_keys"
  chmod 600 "$sim/authorized_keys"

  ip netns add "$name-ul"
  ip -n "$name-ul" link add br0 type bridge
  ip -n "$name-ul" link set br0 up
  for k in $(seq "$count"); do
    local host="$name-h$k" dir="$sim/$name-h$k"
    mkdir -p "$dir"
    ip netns add "$host"
    ip link add "h$k" netns "$name-ul" type veth peer name ul0 netns "$host"
    ip -n "$name-ul" link set "h$k" master br0 up
    ip -n "$host" link set lo up
    ip -n "$host" addr add "192.0.2.$k/24" dev ul0
    ip -n "$host" addr add "fd00:2::$k/64" dev ul0 nodad
    ip -n "$host" link set ul0 up
    cat >"$dir/sshd_config" <<EOF
ListenAddress 192.0.2.$k
ListenAddress fd00:2::$k
HostKey $sim/host_key
PermitRootLogin prohibit-password
AuthorizedKeysFile $sim/authorized_keys
StrictModes no
UsePAM no
PidFile none
SetEnv PATH=$nslab_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
    # The anchor: keeps the host's mount namespace (its /run and /etc) alive whatever else ends.
    ip netns exec "$host" unshare --mount --propagation private -- /bin/sh -ec '
      mount -t tmpfs -o mode=0755 nslab-sim-run /run
      mkdir -p /run/netns /run/sshd
      mkdir -p "$1/etc"
      mount -t tmpfs nslab-sim-etc "$1/etc"
      mkdir "$1/etc/upper" "$1/etc/work"
      mount -t overlay nslab-sim-etc -o "lowerdir=/etc,upperdir=$1/etc/upper,workdir=$1/etc/work" /etc
      # The machine'"'"'s own labs'"'"' /etc/netns would show through the overlay: an empty one over it.
      if [ -d /etc/netns ]; then mount -t tmpfs nslab-sim-netns /etc/netns; fi
      mkdir -p /etc/ssh/ssh_config.d
      printf "Host *\n  IdentityFile %s\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n" \
        "$2/client_key" >/etc/ssh/ssh_config.d/nslab-sim.conf
      echo "$3" >/etc/hostname
      touch "$1/ready"
      exec sleep infinity' sh "$dir" "$sim" "$host" </dev/null >"$dir/anchor.log" 2>&1 &
    echo $! >"$dir/anchor"
    for _ in $(seq 400); do [ -e "$dir/ready" ] && break; sleep 0.05; done
    [ -e "$dir/ready" ] || { echo "sim-hosts: host $host did not come up; see $dir/anchor.log" >&2; down "$name"; exit 1; }
    start_sshd "$host" || { down "$name"; exit 1; }
  done
  echo "sim-hosts: $count hosts up: $(for k in $(seq "$count"); do printf '%s (192.0.2.%s) ' "$name-h$k" "$k"; done)"
}

down() {
  local name=$1 sim="$root/$1"
  for dir in "$sim"/"$name"-h*/; do
    [ -d "$dir" ] || continue
    local host; host=$(basename "$dir")
    if [ -f "$dir/anchor" ] && kill -0 "$(cat "$dir/anchor")" 2>/dev/null; then
      # Every lab on the host, by its record, as its owner would.
      for lab in $(run_on "$host" sh -c 'ls /run/nslab 2>/dev/null' || true); do
        run_on "$host" sh -c "PATH=$(grep -o 'PATH=[^ ]*' "$dir/sshd_config" | cut -d= -f2); nslab destroy --quiet '$lab'" || true
      done
    fi
    stop_sshd "$host"
    [ -f "$dir/anchor" ] && kill "$(cat "$dir/anchor")" 2>/dev/null || true
    ip netns del "$host" 2>/dev/null || true
  done
  ip netns del "$name-ul" 2>/dev/null || true
  rm -rf "$sim"
  rmdir "$root" 2>/dev/null || true
}

case "${1:-}" in
  up) [ $# -eq 3 ] || usage; up "$2" "$3" ;;
  run) [ $# -ge 3 ] || usage; host=$2; shift 2; run_on "$host" /bin/sh -c "export PATH=$(grep -o 'PATH=[^ ]*' "$root/$(sim_of "$host")/$host/sshd_config" | cut -d= -f2); exec \"\$@\"" sh "$@" ;;
  stop-sshd) [ $# -eq 2 ] || usage; stop_sshd "$2" ;;
  start-sshd) [ $# -eq 2 ] || usage; start_sshd "$2" ;;
  down) [ $# -eq 2 ] || usage; down "$2" ;;
  *) usage ;;
esac
