#!/usr/bin/env bash
# Fuzz the topology decoder (YAML → model → diagnostics) and the netlink reply parser for a while.
# Usage: scripts/fuzz.sh [SECONDS per target, default 120] [SEED, default: the time]
# A crash stops the script with the input that caused it in /tmp/nslab-fuzz-TARGET.input.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
seed=${2:-$(date +%s)}
swift build -c release --product nslab-fuzz >&2
for target in topology netlink; do
  .build/release/nslab-fuzz "$target" --seconds "$seconds" --seed "$seed"
done
