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
# The lab changes while it runs: the file with a third host behind router02, deployed again.
edited=$(mktemp --suffix=.yaml)
trap '$nslab destroy routers >/dev/null 2>&1 || true; rm -f "$edited"' EXIT
sed -e 's/^  ns02: .*/&\n  ns03:     { routes: [default via 10.0.3.254] }/' examples/routers.yaml > "$edited"
printf '  - endpoints: [router02:gw02-veth2, ns03:ns03-veth0]\n    addresses: [10.0.3.254/24, 10.0.3.1/24]\n' >> "$edited"
sed -i 's|router01: { kind: router, routes: \[10.0.0.0/24 via 172.16.0.2\] }|router01: { kind: router, routes: [10.0.0.0/24 via 172.16.0.2, 10.0.3.0/24 via 172.16.0.2] }|' "$edited"
$nslab diff "$edited" || true              # what will change (exit 1: changes pending)
$nslab deploy "$edited"                    # only that: ns01, ns02 and the routers keep running as they are
ip netns exec ns01 ping -c 1 ns03          # the new host, by name
$nslab node routers router02 stop          # switch a router off: ns02 and ns03 are cut off
ip netns exec ns01 ping -c 1 -W 1 ns03 || true
$nslab node routers router02 start
ip netns exec ns01 ping -c 1 ns03
$nslab destroy routers
