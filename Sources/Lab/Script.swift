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
        // Every kernel object from the plan deploy and converge work from; only the order (the
        // tutorials': namespaces, links, addresses, routes, files) is the script's own.
        let plan = LabPlan(topology)
        var out = ScriptWriter()
        let ns = { (node: String) in shellWord(topology.namespaceName(of: node)) }
        out.header(topology)

        let instantIPv6 = LabDeployer.needsIPv6AtOnce(topology)
        var first = ["1. One network namespace per node, its loopback up, and forwarding set on every node:",
                     "on for routers, off for hosts (a new namespace copies the host's IPv4 setting)."]
        if instantIPv6 { first += ["Duplicate address detection off, so IPv6 addresses work at once."] }
        let ttl = topology.ttlToWrite()
        if let ttl {
            first += ["TTL and hop limit \(ttl), not the kernel's \(PacketTTL.kernelDefault) ("
                      + (topology.ttl == nil ? "this lab's paths are longer" : "the file's `ttl:`")
                      + "), set before the links exist: an interface takes IPv6's from 'default' when made."]
        }
        out.step(first)
        for node in plan.nodes {
            let on = node.forwards ? 1 : 0
            out.line("ip netns add \(shellWord(node.namespace))")
            out.line("ip netns exec \(shellWord(node.namespace)) sysctl -qw net.ipv4.ip_forward=\(on) net.ipv6.conf.all.forwarding=\(on)"
                     + (instantIPv6 ? " net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0" : "")
                     + (ttl.map { " net.ipv4.ip_default_ttl=\($0) net.ipv6.conf.default.hop_limit=\($0)" } ?? ""))
            out.line("ip netns exec \(shellWord(node.namespace)) ip link set lo up")
        }

        if !plan.links.isEmpty {
            out.step("2. Links: a veth pair each, its two ends created directly in their namespaces (the tutorials",
                     "create both in the host and move them with `ip link set NAME netns NODE`: same result, but",
                     "the names must then be free in the host too); a link to another machine, a VXLAN end.")
            let end = { (ref: InterfaceRef) in plan.node(ref.node)?.interface(ref.interface) }
            for link in plan.links {
                guard let a = end(link.ends[0]) else { continue }
                switch link.kind {
                case .veth:
                    guard let b = end(link.ends[1]) else { continue }
                    out.line("ip link add \(shellWord(a.name)) netns \(ns(link.ends[0].node))\(linkOptions(a)) type veth"
                             + " peer name \(shellWord(b.name)) netns \(ns(link.ends[1].node))\(linkOptions(b))")
                case .vxlan(let tunnel):
                    // Sent from the machine's own namespace: the tunnel's UDP socket stays there.
                    out.line("ip link add \(shellWord(a.name)) netns \(ns(link.ends[0].node))\(linkOptions(a)) "
                             + LinkKind.tunnelCommand(tunnel))
                }
            }
            let bridges = plan.nodes.compactMap { node -> (PlannedNode, stp: Bool, filtering: Bool)? in
                guard case .bridge(let stp, let filtering)? = node.interfaces.first?.kind else { return nil }
                return (node, stp, filtering)
            }
            if !bridges.isEmpty {
                out.comment("Switches: a bridge br0 in each, spanning tree \(bridges.contains(where: \.stp) ? "as declared" : "off")"
                            + (bridges.contains(where: \.filtering) ? ", VLAN filtering where ports have VLANs." : "."))
            }
            for (node, stp, filtering) in bridges {
                out.line("ip netns exec \(ns(node.name)) ip link add \(LabDeployer.bridgeName) type bridge stp_state \(stp ? 1 : 0)"
                         + (filtering ? " vlan_filtering 1" : ""))
                out.line("ip netns exec \(ns(node.name)) ip link set \(LabDeployer.bridgeName) up")
            }

            out.step("3. Addresses on each end, then each end up (a switch's ends first join its bridge, then get their",
                     "VLANs: the kernel puts a new port in VLAN 1 untagged); 802.1Q sub-interfaces on their ends;",
                     "with `neighbours: static`, each end's permanent entry for the other end.")
            for node in plan.nodes {
                let inNode = "ip netns exec \(ns(node.name))"
                for interface in node.interfaces {
                    let name = shellWord(interface.name)
                    switch interface.kind {
                    case .bridge:
                        continue
                    case .vlan(let parent, let id):
                        out.line("\(inNode) ip link add link \(shellWord(parent)) name \(name) type vlan id \(id)")
                    case .linkEnd:
                        break
                    }
                    addresses(interface.addresses, of: name, inNode: inNode, into: &out)
                    if let master = interface.master { out.line("\(inNode) ip link set \(name) master \(shellWord(master))") }
                    out.line("\(inNode) ip link set \(name) up")
                    if let vlans = interface.portVLANs {
                        for vlan in vlans.additions {
                            out.line("\(inNode) bridge vlan add dev \(name) vid \(vlan.vid)\(vlan.pvid ? " pvid" : "")\(vlan.untagged ? " untagged" : "")")
                        }
                        if vlans.removesDefaultVLAN { out.line("\(inNode) bridge vlan del dev \(name) vid 1") }
                    }
                    for entry in interface.permanentNeighbours {
                        out.line("\(inNode) ip neigh replace \(entry.address) lladdr \(formatMAC(entry.mac)) dev \(name) nud permanent")
                    }
                }
            }
        }

        let routed = plan.nodes.filter { !$0.routes.isEmpty }
        if !routed.isEmpty {
            out.step("4. Static routes, once every address is in place.")
            for node in routed {
                for route in node.routes {
                    let family = route.destination.family == .ipv6 ? "-6 " : ""
                    out.line("ip netns exec \(ns(node.name)) ip \(family)route add \(route.text)")
                }
            }
        }

        let down = plan.nodes.flatMap { node in
            node.interfaces.filter { if case .linkEnd = $0.kind { return !$0.up } else { return false } }.map { (node, $0) }
        }
        if !down.isEmpty {
            out.step("4b. Links declared `state: down`: both ends down, once the routes are in (the kernel",
                     "refuses a route through a link that is down, and drops those through it when it goes down).")
            for (node, interface) in down {
                out.line("ip netns exec \(ns(node.name)) ip link set \(shellWord(interface.name)) down")
            }
        }

        out.step("5. Per-node /etc files: `ip netns exec NODE` binds /etc/netns/NODE/* over /etc/*, so each",
                 "node resolves the others by name (`ping ns02`, `ping router01-gw01-veth1`).")
        for node in plan.nodes {
            let directory = "/etc/netns/\(node.namespace)"
            out.line("mkdir -p \(shellWord(directory))")
            for file in node.files { out.heredoc(to: "\(directory)/\(file.name)", file.content) }
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

        let commands = plan.nodes.filter { !$0.commands.isEmpty }
        if !commands.isEmpty {
            out.step("6. Commands started inside nodes once the network is complete, in the background.")
            for node in commands {
                for (number, argv) in node.commands.enumerated() {
                    let log = "/tmp/\(topology.name)-\(node.name)-\(number + 1).log"
                    out.line("ip netns exec \(ns(node.name)) \(argv.map(shellWord).joined(separator: " "))"
                             + " < /dev/null > \(shellWord(log)) 2>&1 &")
                }
            }
        }

        out.blank()
        out.comment("To remove the lab: end what runs inside (ip netns pids NODE), then")
        for node in plan.nodes {
            out.comment("  ip netns delete \(node.namespace); rm -r /etc/netns/\(node.namespace)")
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

    private static func linkOptions(_ end: PlannedInterface) -> String {
        var words = ""
        if let mtu = end.mtu { words += " mtu \(mtu)" }
        if let mac = end.mac { words += " address " + formatMAC(mac) }
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

    mutating func step(_ lines: String...) { step(lines) }

    mutating func step(_ lines: [String]) {
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
