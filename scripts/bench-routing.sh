#!/usr/bin/env bash
# Benchmark: deploy-to-converged of OSPF and BGP labs (real FRR in every router) on chains, rings
# and grids of 3 to 100 routers, against the same lab with `routing: static`; FRR's memory per
# router. As root, FRR installed:
#   scripts/bench-routing.sh [--sizes 3,10,50,100] [--shapes chain,ring,grid] [--out bench/results.md]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product nslab >&2
exec python3 scripts/bench-routing.py "$@"
