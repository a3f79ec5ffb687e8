import Foundation
import NetAddress
import Routing
import Topology

/// `nslab script`: the iproute2 commands that build a lab by hand, in the tutorials' style and
/// commented by step, so a learner sees what `nslab deploy` does. Run on a clean machine they
/// leave the kernel as deploy does, except for what only nslab can do: the ownership alias on
/// each node's loopback, the record under /run/nslab, and a host name per node.
public enum LabScript {
    public static func text(for topology: Topology) -> String {
        var out = ScriptWriter()
        let ns = { (node: String) in shellWord(topology.namespaceName(of: node)) }
        out.header(topology)

        let instantIPv6 = LabDeployer.needsIPv6AtOnce(topology)
        if instantIPv6 {
            out.step("1. One network namespace per node, its loopback up, and forwarding set on every node:",
                     "on for routers, off for hosts (a new namespace copies the host's IPv4 setting). Duplicate",
                     "address detection off, so IPv6 addresses work at once.")
        } else {
            out.step("1. One network namespace per node, its loopback up, and forwarding set on every node:",
                     "on for routers, off for hosts (a new namespace copies the host's IPv4 setting).")
        }
        for node in topology.nodes {
            let on = node.kind.forwards ? 1 : 0
            out.line("ip netns add \(ns(node.name))")
            out.line("ip netns exec \(ns(node.name)) sysctl -qw net.ipv4.ip_forward=\(on) net.ipv6.conf.all.forwarding=\(on)"
                     + (instantIPv6 ? " net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0" : ""))
            out.line("ip netns exec \(ns(node.name)) ip link set lo up")
        }

        if !topology.links.isEmpty {
            out.step("2. Links: a veth pair each, its two ends created directly in their namespaces (the tutorials",
                     "create both in the host and move them with `ip link set NAME netns NODE`: same result, but",
                     "the names must then be free in the host too).")
            for link in topology.links {
                if let tunnel = link.tunnel, let end = link.endpoints.first {
                    // Sent from the machine's own namespace: the tunnel's UDP socket stays there.
                    out.line("ip link add \(shellWord(end.interface)) netns \(ns(end.node))\(linkOptions(end)) "
                             + LinkKind.tunnelCommand(tunnel))
                    continue
                }
                guard link.endpoints.count == 2 else { continue }
                let (a, b) = (link.endpoints[0], link.endpoints[1])
                out.line("ip link add \(shellWord(a.interface)) netns \(ns(a.node))\(linkOptions(a)) type veth"
                         + " peer name \(shellWord(b.interface)) netns \(ns(b.node))\(linkOptions(b))")
            }
            let bridges = topology.nodes.filter { $0.kind == .bridge }
            if !bridges.isEmpty {
                out.comment("Switches: a bridge br0 in each, spanning tree \(bridges.contains(where: \.stp) ? "as declared" : "off")"
                            + (bridges.contains(where: \.vlanFiltering) ? ", VLAN filtering where ports have VLANs." : "."))
            }
            for node in bridges {
                let filtering = node.vlanFiltering ? " vlan_filtering 1" : ""
                out.line("ip netns exec \(ns(node.name)) ip link add \(LabDeployer.bridgeName) type bridge stp_state \(node.stp ? 1 : 0)\(filtering)")
                out.line("ip netns exec \(ns(node.name)) ip link set \(LabDeployer.bridgeName) up")
            }

            out.step("3. Addresses on each end, then each end up (a switch's ends first join its bridge, then get their",
                     "VLANs: the kernel puts a new port in VLAN 1 untagged); 802.1Q sub-interfaces on their ends.")
            let kinds = Dictionary(topology.nodes.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
            for endpoint in topology.links.flatMap(\.endpoints) {
                let inNode = "ip netns exec \(ns(endpoint.node))"
                let interface = shellWord(endpoint.interface)
                addresses(endpoint.addresses, of: interface, inNode: inNode, into: &out)
                if kinds[endpoint.node] == .bridge { out.line("\(inNode) ip link set \(interface) master \(LabDeployer.bridgeName)") }
                out.line("\(inNode) ip link set \(interface) up")
                if let vlans = endpoint.portVLANs {
                    for vlan in vlans.additions {
                        out.line("\(inNode) bridge vlan add dev \(interface) vid \(vlan.vid)\(vlan.pvid ? " pvid" : "")\(vlan.untagged ? " untagged" : "")")
                    }
                    if vlans.removesDefaultVLAN { out.line("\(inNode) bridge vlan del dev \(interface) vid 1") }
                }
                for sub in endpoint.subinterfaces {
                    let name = shellWord(sub.name)
                    out.line("\(inNode) ip link add link \(interface) name \(name) type vlan id \(sub.vlan)")
                    addresses(sub.addresses, of: name, inNode: inNode, into: &out)
                    out.line("\(inNode) ip link set \(name) up")
                }
            }
        }

        let routed = topology.nodes.filter { !$0.routes.isEmpty }
        if !routed.isEmpty {
            out.step("4. Static routes, once every address is in place.")
            for node in routed {
                for route in node.routes {
                    let family = route.destination.family == .ipv6 ? "-6 " : ""
                    out.line("ip netns exec \(ns(node.name)) ip \(family)route add \(route.text)")
                }
            }
        }

        let downLinks = topology.links.filter(\.isDown)
        if !downLinks.isEmpty {
            out.step("4b. Links declared `state: down`: both ends down, once the routes are in (the kernel",
                     "refuses a route through a link that is down, and drops those through it when it goes down).")
            for link in downLinks {
                for endpoint in link.endpoints {
                    out.line("ip netns exec \(ns(endpoint.node)) ip link set \(shellWord(endpoint.interface)) down")
                }
            }
        }

        out.step("5. Per-node /etc files: `ip netns exec NODE` binds /etc/netns/NODE/* over /etc/*, so each",
                 "node resolves the others by name (`ping ns02`, `ping router01-gw01-veth1`).")
        let hosts = HostsFile.Table(topology)
        let hostHasResolvConf = FileManager.default.fileExists(atPath: "/etc/resolv.conf")
        for node in topology.nodes {
            let directory = "/etc/netns/\(topology.namespaceName(of: node.name))"
            out.line("mkdir -p \(shellWord(directory))")
            for file in NodeFiles.files(of: node, in: topology, hostHasResolvConf: hostHasResolvConf, hosts: hosts) {
                out.heredoc(to: "\(directory)/\(file.name)", file.content)
            }
        }

        let frr = FRRConfig.make(RoutedLab(topology))
        if !frr.isEmpty {
            out.step("5b. FRR on \(frr.count == 1 ? "one node" : "\(frr.count) nodes"): its files in FRR's path spaces, /etc/frr/NODE and /var/run/frr/NODE",
                     "(`vtysh -N NODE` finds them from the host), bound over /etc/frr and /var/run/frr inside the",
                     "node, where the daemons start: zebra first, the others once it listens, then `vtysh -b`",
                     "gives each daemon its part of frr.conf.")
            for config in frr {
                let namespace = topology.namespaceName(of: config.node)
                let (etc, run) = (FRRPaths.configDirectory(namespace), FRRPaths.runDirectory(namespace))
                out.line("mkdir -p \(shellWord(etc)) \(shellWord(run))")
                for (name, content) in config.files { out.heredoc(to: "\(etc)/\(name)", content) }
                out.line("chown -R frr:frr \(shellWord(etc)) \(shellWord(run))")
                let sockets = config.daemons.map { "[ -S \(FRRPaths.runRoot)/\($0).vty ]" }.joined(separator: " && ")
                let inside = "mount --bind \(etc) \(FRRPaths.configRoot) && mount --bind \(run) \(FRRPaths.runRoot)"
                    + " && \(FRRPaths.programs)/zebra -d -P 0"
                    + " && until [ -S \(FRRPaths.runRoot)/zserv.api ]; do sleep 0.05; done"
                    + config.daemons.filter { $0 != "zebra" }.map { " && \(FRRPaths.programs)/\($0) -d -P 0" }.joined()
                    + " && until \(sockets); do sleep 0.05; done && vtysh -b"
                out.line("ip netns exec \(ns(config.node)) sh -c \(shellWord(inside))")
            }
        }

        let commands = topology.nodes.filter { !$0.commands.isEmpty }
        if !commands.isEmpty {
            out.step("6. Commands started inside nodes once the network is complete, in the background.")
            for node in commands {
                for (number, command) in node.commands.enumerated() {
                    let log = "/tmp/\(topology.name)-\(node.name)-\(number + 1).log"
                    out.line("ip netns exec \(ns(node.name)) \(command.argv.map(shellWord).joined(separator: " "))"
                             + " < /dev/null > \(shellWord(log)) 2>&1 &")
                }
            }
        }

        out.blank()
        out.comment("To remove the lab: end what runs inside (ip netns pids NODE), then")
        for node in topology.nodes {
            out.comment("  ip netns delete \(topology.namespaceName(of: node.name)); rm -r /etc/netns/\(topology.namespaceName(of: node.name))")
        }
        for config in frr {
            let namespace = topology.namespaceName(of: config.node)
            out.comment("  rm -r \(FRRPaths.configDirectory(namespace)) \(FRRPaths.runDirectory(namespace))")
        }
        return out.text
    }

    private static func addresses(_ addresses: [IPPrefix], of interface: String, inNode: String, into out: inout ScriptWriter) {
        for address in addresses {
            out.line("\(inNode) ip address add \(address) dev \(interface)\(address.family == .ipv6 ? " nodad" : "")")
        }
    }

    private static func linkOptions(_ endpoint: Endpoint) -> String {
        var words = ""
        if let mtu = endpoint.mtu { words += " mtu \(mtu)" }
        if let mac = endpoint.mac {
            words += " address " + mac.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined(separator: ":")
        }
        return words
    }

    /// Quoted for sh when it holds anything but safe characters.
    static func shellWord(_ word: String) -> String {
        let safe = word.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_./:=@%+,".unicodeScalars.contains($0)
        }
        if safe && !word.isEmpty { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

private struct ScriptWriter {
    var text = ""

    mutating func line(_ line: String) { text += line + "\n" }
    mutating func blank() { text += "\n" }
    mutating func comment(_ line: String) { text += "# " + line + "\n" }

    mutating func step(_ lines: String...) {
        blank()
        for line in lines { comment(line) }
    }

    mutating func header(_ topology: Topology) {
        line("#!/bin/sh")
        comment("Lab \(topology.name) (\(topology.file)) built by hand with iproute2: \(counted(topology.nodes.count, "node")),"
                + " \(counted(topology.links.count, "link")). Run as root on a machine without these namespaces.")
        comment("`nslab deploy` does the same over rtnetlink, in one process, and also tags each node's loopback")
        comment("(alias nslab:LAB/NODE), records what it made under /run/nslab and gives each node its host name.")
        line("set -e")
    }

    /// A file written with a quoted here-document, so nothing in it is expanded.
    mutating func heredoc(to path: String, _ content: String) {
        guard content.hasSuffix("\n") else {
            // A here-document always ends with a newline: printf keeps the content exact.
            line("printf '%s' \(LabScript.shellWord(content)) > \(LabScript.shellWord(path))")
            return
        }
        var marker = "EOF"
        while content.contains(marker) { marker += "_" }
        line("cat > \(LabScript.shellWord(path)) <<'\(marker)'")
        text += content
        line(marker)
    }
}
