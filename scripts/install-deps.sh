#!/usr/bin/env bash
# What a fresh Debian machine lacks for nslab's demo and tests: iproute2 and ping to cross-check
# nslab against the real tools, tcpdump and traceroute for the seed tutorials' own steps,
# Graphviz for nslab graph's svg and png, FRR for routing labs, OpenSSH for labs spread over hosts, and Debian's chromium to look at `nslab serve`'s page
# as a person's browser shows it.
set -euo pipefail
needed=()
command -v ip >/dev/null || needed+=(iproute2)
command -v ping >/dev/null || needed+=(iputils-ping)
command -v tcpdump >/dev/null || needed+=(tcpdump)
command -v iperf3 >/dev/null || needed+=(iperf3)  # link rate tests (LinkControlTests)
command -v traceroute >/dev/null || needed+=(traceroute)
command -v pgrep >/dev/null || needed+=(procps)
command -v strace >/dev/null || needed+=(strace)
command -v dot >/dev/null || needed+=(graphviz)  # nslab graph --format svg|png, and its tests
command -v curl >/dev/null || needed+=(curl)          # nslab serve's API tests (ServeTests)
command -v chromium >/dev/null || needed+=(chromium)  # nslab serve's page in a headless browser (ServeTests)
command -v dpkg-shlibdeps >/dev/null || needed+=(dpkg-dev)  # scripts/package.sh
command -v debootstrap >/dev/null || needed+=(debootstrap)    # scripts/package-test.sh
[ -x /usr/lib/frr/zebra ] || needed+=(frr)                    # routing: ospf|bgp and frr: (RoutingLabTests)
[ -x /usr/sbin/sshd ] || needed+=(openssh-server)             # simulated hosts of spread labs (scripts/sim-hosts.sh, SpreadLabTests)
command -v ssh >/dev/null || needed+=(openssh-client)
if [ ${#needed[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${needed[@]}" >/dev/null
fi
