#!/usr/bin/env bash
# Builds nslab, deploys seed 001's routed lab, shows it working with the seed's own commands,
# then destroys it. Run as root from the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product nslab 2>&1 | tail -1
nslab=.build/release/nslab
trap '$nslab destroy routers >/dev/null 2>&1 || true' EXIT
set -x
$nslab deploy examples/routers.yaml
ip netns list
ip netns exec ns01 ping -c 3 10.0.0.1 -I 192.168.0.1
ip -n router01 route
ip netns exec ns01 ping -c 1 ns02          # by name: every node has a hosts file naming the others
$nslab verify routers                      # every node to every address of every other: all ✓
$nslab trace ns01 ns02                     # the path, each hop named node:interface
$nslab inspect routers
$nslab destroy routers
