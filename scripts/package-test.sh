#!/usr/bin/env bash
# Installs the Debian package into a clean, minimal Debian root (debootstrap --variant=minbase,
# no Swift in it) and uses it there as a new user would:
#   - `apt-get install ./nslab_*.deb` pulls in what it depends on;
#   - `nslab --version` prints the package's version;
#   - `man nslab-deploy` renders (man-db is installed first, as a test tool, not a dependency);
#   - bash completes `nslab dep<TAB>` to `deploy` (the installed completion, driven directly);
#   - zsh's compinit finds the zsh completion, fish completes `nslab dep` to `deploy`;
#   - deploy, verify and destroy of /usr/share/nslab/examples/routers.yaml work;
#   - no Swift anywhere in the root, and the binary's libraries all resolve;
#   - `apt-get purge nslab` leaves none of the package's files.
#
#   scripts/package-test.sh [DEB]     # without DEB: scripts/package.sh builds one
#   NSLAB_PACKAGE_TEST_CACHE=0 ...     # debootstrap afresh instead of reusing the cached root
#
# As root. The root's tarball is cached in /var/cache/nslab-package-test (the first run
# downloads ~40 MB with debootstrap). The chroot has a /run of its own (a tmpfs), so its
# namespaces and lab records are invisible to the machine's and cannot collide with them;
# everything (mounts, namespaces, the root) is removed at the end, on failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
[ "$(id -u)" = 0 ] || { echo "package-test.sh: run as root (it makes a chroot and namespaces)" >&2; exit 1; }

deb=${1:-}
if [ -z "$deb" ]; then
  echo "== building the package (scripts/package.sh)"
  # The build's own output (thousands of lines) goes to a log, shown only if it fails.
  build_log=$(mktemp "${TMPDIR:-/tmp}/nslab-package-build.XXXXXX")
  if ! deb=$(scripts/package.sh 2> "$build_log" | tail -n 1); then
    tail -n 40 "$build_log" >&2; rm -f "$build_log"
    echo "package-test.sh: scripts/package.sh failed (the end of its output is above)" >&2; exit 1
  fi
  grep '^package.sh: ' "$build_log" | sed 's/^/  /'
  rm -f "$build_log"
fi
[ -f "$deb" ] || { echo "package-test.sh: no such package: $deb" >&2; exit 1; }
deb=$(realpath "$deb")
version=$(dpkg-deb -f "$deb" Version)
build_seconds=$((SECONDS - started))

if ! command -v debootstrap >/dev/null; then
  echo "== installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
fi

# The Debian mirror apt on this machine uses (deb822 sources first, then sources.list).
mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | grep '/debian/\?$' | head -n 1 || true)
[ -n "$mirror" ] || mirror=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep '/debian/\?$' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/nslab-package-test.XXXXXX)
root=$work/root
mkdir "$root"
cache_dir=/var/cache/nslab-package-test
cache=$cache_dir/bookworm-minbase.tar.gz

# Mount points under the root, deepest first, as the kernel lists them.
mounts_under_root() {
  awk -v r="$root" '{ gsub(/\\040/, " ", $2); if ($2 == r || index($2, r "/") == 1) print $2 }' /proc/self/mounts | sort -r
}
cleanup() {
  local status=$? leftover pid
  set +e
  if [ -x "$root/usr/bin/nslab" ] && [ -d "$root/run/nslab" ] && [ -n "$(ls -A "$root/run/nslab" 2>/dev/null)" ]; then
    # Only the chroot's own labs: its /run/nslab is its own tmpfs.
    chroot "$root" nslab destroy --all >/dev/null 2>&1
  fi
  # Processes this test started inside the root (their root directory is it), by pid.
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -KILL "$pid" 2>/dev/null
  done
  for mount in $(mounts_under_root); do umount "$mount" 2>/dev/null || umount -l "$mount"; done
  leftover=$(mounts_under_root)
  if [ -n "$leftover" ]; then
    echo "package-test.sh: could not unmount, so $work is left in place: $leftover" >&2
    status=1
  else
    rm -rf --one-file-system "$work"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

failures=0
pass() { echo "  ok: $*"; }
fail() { echo "  FAILED: $*"; failures=$((failures + 1)); }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb "$@"; }

# 1. A minimal Debian root, from the cache or from the mirror.
phase=$SECONDS
if [ "${NSLAB_PACKAGE_TEST_CACHE:-1}" != 0 ] && [ -f "$cache" ]; then
  echo "== unpacking the cached minimal root ($cache)"
  tar -C "$root" -xzf "$cache"
else
  echo "== debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2; echo "package-test.sh: debootstrap failed (log above)" >&2; exit 1; }
  for mount in $(mounts_under_root); do umount "$mount"; done
  mkdir -p "$cache_dir"
  tar -C "$root" --one-file-system -czf "$cache.tmp" . && mv "$cache.tmp" "$cache"
fi
root_seconds=$((SECONDS - phase))

# What the package may need at run time, made for the chroot: its own /proc, /sys, a /dev of a
# few nodes, and a /run (so /run/netns and /run/nslab) of its own; all private mounts, so
# nothing propagates to or from the machine's.
# The root a mount point of its own, as / is: `nslab exec` (like `ip netns exec`) makes / a
# slave mount, which the kernel refuses on a directory that is not one.
mount --bind "$root" "$root" && mount --make-private "$root"
mount -t proc proc "$root/proc" && mount --make-private "$root/proc"
mount -t sysfs sysfs "$root/sys" && mount --make-private "$root/sys"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev" && mount --make-private "$root/dev"
for node in "null c 1 3" "zero c 1 5" "full c 1 7" "random c 1 8" "urandom c 1 9" "tty c 5 0"; do
  set -- $node; mknod -m 0666 "$root/dev/$1" "$2" "$3" "$4"
done
ln -s /proc/self/fd "$root/dev/fd"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run" && mount --make-private "$root/run"
mkdir -p "$root/run/lock"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# 2. Install: the test's own tools first (man-db, bash-completion), then the package.
phase=$SECONDS
echo "== apt-get install man-db bash-completion zsh fish (test tools), then ./$(basename "$deb")"
in_root apt-get update -qq > "$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends man-db bash-completion zsh fish >> "$work/apt.log" 2>&1 \
  || { tail -n 20 "$work/apt.log" >&2; exit 1; }
cp "$deb" "$root/tmp/" && chmod 0644 "$root/tmp/$(basename "$deb")"
before_install=$(in_root dpkg-query -W -f '${Package}\n' | sort)
if in_root sh -c "cd /tmp && DEBIAN_FRONTEND=noninteractive apt-get install -y ./$(basename "$deb")" > "$work/install.log" 2>&1; then
  pass "apt-get install ./$(basename "$deb")"
else
  tail -n 30 "$work/install.log"; fail "apt-get install ./$(basename "$deb")"; exit 1
fi
rm -f "$root/tmp/$(basename "$deb")"
pulled=$(comm -13 <(echo "$before_install") <(in_root dpkg-query -W -f '${Package}\n' | sort) | grep -vx nslab | tr '\n' ' ')
echo "  (apt pulled in with it: ${pulled:-nothing})"
install_seconds=$((SECONDS - phase))

echo "== checks in the root"
# --version
got=$(in_root nslab --version 2>&1) || true
if [[ $got == "$version (commit "* ]]; then pass "nslab --version: $got"; else fail "nslab --version printed '$got', expected '$version (commit …)'"; fi

# man pages
page=$(in_root env MANPAGER=cat MANWIDTH=80 man nslab-deploy 2>&1) || true
if grep -q 'NSLAB-DEPLOY(1)' <<<"$page" && grep -q 'nslab deploy' <<<"$page" && grep -q 'SYNOPSIS' <<<"$page"; then
  pass "man nslab-deploy renders ($(wc -l <<<"$page") lines; $(in_root man -w nslab-deploy))"
else
  fail "man nslab-deploy did not render: $(head -n 5 <<<"$page")"
fi
# man-db's trigger indexed the pages at install: whatis knows them by their names.
what=$(in_root whatis nslab-deploy 2>&1) || true
if [[ $what == "nslab-deploy (1)"*"Create the lab"* ]]; then pass "whatis nslab-deploy: $what"; else fail "whatis nslab-deploy gave '$what'"; fi
pages=$(in_root dpkg -L nslab | grep -c '/man1/nslab.*\.1\.gz$' || true)
missing_pages=""
for sub in $(in_root nslab --help | awk '/^SUBCOMMANDS:/{on=1; next} /^[A-Z]/{on=0} on && /^  [a-z]/ {print $1}'); do
  in_root man -w "nslab-$sub" >/dev/null 2>&1 || missing_pages+=" nslab-$sub"
done
if [ -z "$missing_pages" ] && in_root man -w nslab >/dev/null 2>&1; then
  pass "man nslab and a page per subcommand ($pages pages)"
else
  fail "man pages missing:$missing_pages"
fi

# bash completion, driven as bash does on <TAB>: COMP_WORDS/COMP_CWORD, then the function
# `complete -p nslab` names, then COMPREPLY.
completion=$(in_root bash -c '
  source /usr/share/bash-completion/bash_completion 2>/dev/null || true
  source /usr/share/bash-completion/completions/nslab
  function=$(complete -p nslab | sed -n "s/.*-F \([^ ]*\).*/\1/p")
  COMP_WORDS=(nslab dep); COMP_CWORD=1; COMP_LINE="nslab dep"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9; COMP_KEY=9
  "$function" nslab dep nslab
  printf "%s\n" "${COMPREPLY[@]}"' 2>&1) || true
if [ "$completion" = deploy ]; then pass "bash: nslab dep<TAB> completes to deploy"; else fail "bash: nslab dep<TAB> gave '$completion'"; fi
# zsh: compinit finds the function through zsh's own default fpath (where the package put it).
found=$(in_root zsh -f -c 'autoload -U compinit && compinit -u -D && print -r -- ${_comps[nslab]}' 2>&1) || true
if [ "$found" = _nslab ]; then pass "zsh: compinit finds _nslab for nslab on its default fpath"; else fail "zsh: compinit gave '$found' for nslab"; fi
# fish: complete -C asks fish what it would offer for the line, from its vendor directory.
completion=$(in_root fish -c 'complete -C"nslab dep"' 2>&1 | cut -f1) || true
if [ "$completion" = deploy ]; then pass "fish: nslab dep<TAB> completes to deploy"; else fail "fish: nslab dep<TAB> gave '$completion'"; fi
if [ -f "$root/usr/share/nslab/schema/nslab-topology.schema.json" ] && [ -f "$root/usr/share/nslab/examples/routers.yaml" ]; then
  pass "schema and examples under /usr/share/nslab"
else
  fail "schema or examples missing from /usr/share/nslab"
fi

# deploy, verify, destroy
phase=$SECONDS
lab_ok=1
out=$(in_root nslab validate /usr/share/nslab/examples/routers.yaml 2>&1) && pass "nslab validate routers.yaml: $(tail -n 1 <<<"$out")" \
  || { fail "nslab validate routers.yaml: $out"; lab_ok=0; }
if out=$(in_root nslab deploy /usr/share/nslab/examples/routers.yaml 2>&1); then pass "$out"; else fail "deploy: $out"; lab_ok=0; fi
if [ $lab_ok = 1 ]; then
  names=$(in_root ip netns list | awk '{print $1}' | sort | tr '\n' ' ')
  if [ "$names" = "ns01 ns02 router01 router02 " ]; then pass "ip netns list (iproute2 from Depends) shows $names"; else fail "ip netns list shows '$names'"; fi
  if out=$(in_root nslab verify routers 2>&1); then pass "nslab verify routers: $(grep -m 1 -E "pairs|reach|answer" <<<"$out" || head -n 1 <<<"$out")"; else fail "verify: $out"; fi
  if out=$(in_root nslab exec ns01 -- ping -c 1 -W 2 10.0.0.1 2>&1); then pass "ping across two routers from ns01: $(grep -o 'ttl=[0-9]*' <<<"$out")"; else fail "ping: $out"; fi
fi
if out=$(in_root nslab destroy routers 2>&1); then pass "$out"; else fail "destroy: $out"; fi
left=$(in_root ip netns list; ls "$root/run/nslab" 2>/dev/null; ls "$root/etc/netns" 2>/dev/null; mounts_under_root | grep -E '/run/(netns|nslab)/' || true)
if [ -z "$left" ]; then pass "nothing of the lab left (namespaces, records, /etc/netns, mounts)"; else fail "left after destroy: $left"; fi
lab_seconds=$((SECONDS - phase))

# no Swift in the root
# (Swift's runtime libraries, its lib directories and its programs; zsh's _swift completion and
# the America/Swift_Current time zone are not Swift.)
swift_files=$(find "$root" -xdev \( -name 'libswift*' -o -name 'libFoundation*.so*' -o -name 'libdispatch.so*' \
  -o -path '*/lib/swift' -o -path '*/lib/swift_static' -o \( -path '*/bin/*' -name 'swift*' \) \) -print | sed "s|^$root||" | head -n 5)
libraries=$(in_root ldd /usr/bin/nslab 2>&1)
if [ -z "$swift_files" ] && ! in_root sh -c 'command -v swift' >/dev/null && ! grep -q 'not found\|swift' <<<"$libraries"; then
  pass "no Swift in the root; nslab links only $(awk '{print $1}' <<<"$libraries" | grep -v '^/' | tr '\n' ' ')"
else
  fail "Swift in the root or unresolved libraries: ${swift_files} ${libraries}"
fi

# purge leaves nothing of the package's
installed=$(in_root dpkg -L nslab)
if in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y nslab > "$work/purge.log" 2>&1; then
  remaining=""
  while IFS= read -r path; do
    [ -n "$path" ] && [ "$path" != /. ] || continue
    if [ -L "$root$path" ] || [ -f "$root$path" ]; then
      remaining+=" $path"
    elif [ -d "$root$path" ] && [ -z "$(in_root dpkg -S "$path" 2>/dev/null)" ]; then
      remaining+=" $path/"   # a directory no other package owns: the package's own, left behind
    fi
  done <<<"$installed"
  if [ -z "$remaining" ]; then
    pass "apt-get purge nslab removed all $(grep -c . <<<"$installed") paths it had installed (directories other packages share stay)"
  else
    fail "after apt-get purge nslab these remain:$remaining"
  fi
else
  tail -n 20 "$work/purge.log"; fail "apt-get purge nslab"
fi

echo "== $(basename "$deb"): $(du -h "$deb" | cut -f1); times: package ${build_seconds} s, root ${root_seconds} s, install ${install_seconds} s, lab ${lab_seconds} s, total $((SECONDS - started)) s"
if [ $failures -gt 0 ]; then
  echo "package-test.sh: $failures check(s) failed"
  exit 1
fi
echo "package-test.sh: every check passed"
