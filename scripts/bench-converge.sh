#!/usr/bin/env bash
# Benchmark: converging a deployed star (no change, one leaf added or removed, one link renumbered)
# against destroy + deploy of the edited file. As root:
#   scripts/bench-converge.sh [--leaves 1000] [--runs 3] [--out bench/results.md]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product nslab >&2
exec python3 scripts/bench-converge.py "$@"
