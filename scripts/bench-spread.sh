#!/usr/bin/env bash
# Benchmark: deploy and destroy of a 300-node lab spread over three hosts (a third of its links
# between hosts, as VXLAN), against the same lab on one host. The hosts are simulated
# (scripts/sim-hosts.sh): three network namespaces with their own /run, /etc and sshd on this
# machine, so the figures are nslab's and ssh's own costs, not a network's. As root:
#   scripts/bench-spread.sh [--nodes 300] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product nslab >&2
exec flock /tmp/nslab-bench.lock python3 scripts/bench-spread.py "$@"
