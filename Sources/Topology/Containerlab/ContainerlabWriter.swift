import NetAddress

/// A lab written as a containerlab topology, for people who move it to containers: every host
/// and router a `linux` node whose `exec:` lines give it the lab's addresses, MTUs, forwarding
/// and routes (read back by nslab exactly, so the export deploys to the same kernel state),
/// every switch a `bridge` node. What containerlab cannot be told is listed at the top.
public enum ContainerlabWriter {
    /// `image` is what each linux node runs in containerlab (nslab ignores it); it needs `ip`
    /// and `sysctl`.
    public static func yaml(of topology: Topology, image: String) -> String {
        var lines = ["# Exported by `nslab export --format clab` from lab \(topology.name) (\(topology.file)).",
                     "# nslab deploys it too: `nslab deploy FILE` (namespaces clab-\(topology.name)-NODE)."]
        let notes = leftOut(topology)
        if !notes.isEmpty { lines += ["#", "# Not exported:"] + notes.map { "# - " + $0 } }
        lines += ["name: \(YAMLWriter.scalar(topology.name))", "topology:", "  nodes:"]
        for node in topology.nodes {
            lines.append("    \(YAMLWriter.scalar(node.name)):")
            if node.kind == .bridge {
                lines.append("      kind: bridge")
                continue
            }
            lines += ["      kind: linux", "      image: \(YAMLWriter.scalar(image))"]
            let exec = execLines(of: node, in: topology)
            if !exec.isEmpty { lines += ["      exec:"] + exec.map { "        - " + YAMLWriter.scalar($0) } }
        }
        if !topology.links.isEmpty {
            lines.append("  links:")
            for link in topology.links where link.endpoints.count == 2 {
                let ends = link.endpoints.map { YAMLWriter.quoted($0.id) }.joined(separator: ", ")
                lines.append("    - endpoints: [\(ends)]")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Forwarding first, then each link end's MTU and addresses, then the routes: the order a
    /// node needs them in.
    static func execLines(of node: Node, in topology: Topology) -> [String] {
        var lines: [String] = []
        if node.kind == .router {
            lines += ["sysctl -w net.ipv4.ip_forward=1", "sysctl -w net.ipv6.conf.all.forwarding=1"]
        }
        for end in topology.endpoints(of: node.name) {
            if let mtu = end.mtu { lines.append("ip link set \(end.interface) mtu \(mtu)") }
            for address in end.addresses { lines.append("ip addr add \(address) dev \(end.interface)") }
        }
        for route in node.routes {
            lines.append("ip \(route.destination.family == .ipv6 ? "-6 " : "")route add \(route.text)")
        }
        return lines
    }

    /// What a containerlab file cannot carry, one line each.
    static func leftOut(_ topology: Topology) -> [String] {
        var notes: [String] = []
        for node in topology.nodes {
            if node.kind == .bridge {
                notes.append("\(node.name) is a bridge node: containerlab expects a Linux bridge of that name in the host "
                             + "(`ip link add \(node.name) type bridge && ip link set \(node.name) up`)")
            }
            if !node.files.isEmpty { notes.append("\(node.name)'s /etc files (\(node.files.map(\.name).joined(separator: ", ")))") }
            if !node.commands.isEmpty { notes.append("\(node.name)'s commands (\(node.commands.map(\.text).joined(separator: "; ")))") }
        }
        for link in topology.links {
            let id = link.endpoints.map(\.id).joined(separator: " -- ")
            if link.isDown { notes.append("\(id) is down") }
            if link.impairment != nil || link.endpoints.contains(where: { $0.impairment != nil }) { notes.append("\(id)'s impairment") }
            if link.flap != nil { notes.append("\(id)'s flap schedule") }
            if link.endpoints.contains(where: { $0.mac != nil }) { notes.append("\(id)'s MAC addresses") }
            if link.endpoints.contains(where: { $0.portVLANs != nil || !$0.subinterfaces.isEmpty }) { notes.append("\(id)'s VLANs") }
        }
        if !topology.expectations.isEmpty { notes.append("the expect: list (\(topology.expectations.count) expectations)") }
        return notes
    }
}
