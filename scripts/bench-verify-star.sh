#!/usr/bin/env bash
# Benchmark: `nslab verify` of a generated star of N leaves (default 1,000; 2,000,000 probes),
# once as generated (every probe answers) and once with the hub's IPv4 forwarding turned off, so
# that every leaf-to-leaf probe fails and is explained. Wall time and peak memory (maximum
# resident set) from /usr/bin/time -v; every verify's summary lines are printed.
#
# Usage (as root; it runs a big lab, so hold the bench lock):
#   flock /tmp/nslab-bench.lock scripts/bench-verify-star.sh [LEAVES] [NSLAB]
# NSLAB: the binary to measure (default: this tree's release build, built first), e.g. a copy of
# main's to compare. TIMEOUT (seconds, default 900): a verify still running then is stopped
# and reported as such. The lab is destroyed at the end, whatever happens.
source "$(dirname "$0")/bench-common.sh"
leaves=${1:-1000}
timeout_seconds=${TIMEOUT:-900}
bench_setup bvs "${2:-}"

# Permanent neighbour entries, written out: the binaries before automatic ones need them for
# 2,000 link ends, and the comparison is then of verify alone.
"$nslab" generate star --leaves "$leaves" --name "$lab" --prefix "$prefix" --static-neighbours -o "$file" --force
"$nslab" deploy -q "$file"

# One verify: its summary lines, then "time: S s, peak memory: M MiB" (or that it was stopped).
measure() {
  local status=0
  /usr/bin/time -v -o "$out.time" timeout "$timeout_seconds" "$nslab" verify "$lab" >"$out" 2>&1 || status=$?
  grep -E 'nodes, [0-9]+ probes|pairs:|^(PASS|FAIL)' "$out" | head -12 || true
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$out.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$out.time" | awk '{print $NF}')
  if [[ $status -eq 124 ]]; then
    echo "stopped after ${timeout_seconds} s (timeout), peak memory so far: $((rss / 1024)) MiB"
  else
    echo "exit $status, time: $wall (m:ss), peak memory: $((rss / 1024)) MiB, CPU: $(grep 'User time' "$out.time" | awk '{print $NF}') s user, $(grep 'System time' "$out.time" | awk '{print $NF}') s system (the kernel's ICMP work)"
  fi
  # Seconds, for the ratio at the end.
  last_seconds=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
}

echo "== $leaves-leaf star, every probe answering: $nslab"
measure
ip netns exec "${prefix}hub" sysctl -qw net.ipv4.ip_forward=0
echo "== the same, hub forwarding off"
passing=$last_seconds
measure
echo "every leaf-to-leaf probe failing takes $(awk -v a="$last_seconds" -v b="$passing" 'BEGIN { printf "%.2f", a / b }')x the time of every probe answering"
