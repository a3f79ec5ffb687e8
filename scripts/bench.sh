#!/usr/bin/env bash
# Benchmark: nslab against `ip` per step and `ip -batch` deploying and destroying star labs.
# As root: scripts/bench.sh [--sizes 10,100,1000] [--runs 3] [--hand-runs 1] [--out bench/results.md]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v /usr/bin/time >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
swift build -c release --product nslab >&2
exec python3 scripts/bench.py "$@"
