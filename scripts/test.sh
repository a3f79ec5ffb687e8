#!/usr/bin/env bash
# The test suite: unit tests everywhere, kernel tests as root (skipped, with the reason, when not).
# Fails if the run leaves any namespace, mount, /etc/netns directory or lab record behind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Each probe may find nothing (no /etc/netns, no /run/nslab): that is an empty list, not an error.
snapshot() {
  { ip netns list 2>/dev/null | awk '{print "namespace " $1}' || true
    grep ' /run/netns/' /proc/mounts 2>/dev/null | awk '{print "mount " $2}' || true
    ls -1 /etc/netns 2>/dev/null | sed 's|^|/etc/netns/|' || true
    find /run/nslab -mindepth 1 -maxdepth 1 2>/dev/null | sed 's/^/record /' || true
  } | sort
}
before=$(snapshot)
status=0
swift test "$@" || status=$?
after=$(snapshot)
leaked=$(comm -13 <(echo "$before") <(echo "$after"))
if [ -n "$leaked" ]; then
  echo "LEAK: the tests left these behind:" >&2
  echo "$leaked" >&2
  status=1
fi
exit $status
