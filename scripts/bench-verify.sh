#!/usr/bin/env bash
# Benchmark: `nslab verify` on a generated star of N leaves (default 100) around one router,
# every leaf with a default route to the hub. Every node probes every address of every other
# node (leaves: 99 other leaves + the hub's 100 addresses). The target on a 2-core machine is
# under 2 s for the whole verify. Usage: scripts/bench-verify.sh [LEAVES] (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
leaves=${1:-100}
lab="bench-star-$$"
file=$(mktemp --suffix=.yaml)
swift build -c release >/dev/null
nslab="$(swift build -c release --show-bin-path)/nslab"
trap '"$nslab" destroy "$lab" >/dev/null 2>&1 || true; rm -f "$file"' EXIT
{
  echo "name: $lab"
  echo "prefix: bs$$-"
  echo "nodes:"
  echo "  hub: { kind: router }"
  for i in $(seq 1 "$leaves"); do echo "  leaf$i: { routes: [default via 10.$((i / 250)).$((i % 250)).1] }"; done
  echo "links:"
  for i in $(seq 1 "$leaves"); do
    echo "  - endpoints: [hub:h$i, leaf$i:eth0]"
    echo "    addresses: [10.$((i / 250)).$((i % 250)).1/24, 10.$((i / 250)).$((i % 250)).2/24]"
  done
} > "$file"
"$nslab" deploy -q "$file"
for run in 1 2 3; do
  start=$(date +%s.%N)
  "$nslab" verify "$lab" > /tmp/bench-verify.out || { tail -20 /tmp/bench-verify.out; exit 1; }
  end=$(date +%s.%N)
  printf 'run %d: %s  (wall clock of the whole command: %.3f s)\n' "$run" "$(grep -E 'probes:' /tmp/bench-verify.out)" "$(echo "$end - $start" | bc)"
done
