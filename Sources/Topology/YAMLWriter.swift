import NetAddress

/// Writes a topology back as a topology file: compact flow style, one node or link per line,
/// so that generated, adopted and converted labs stay readable and diff well. Everything the
/// model holds that a file can say is written (kinds, routes, files, commands, bridge settings,
/// link state, MTU, MAC, impairments, flaps, VLANs), and `Topology.parse` reads the result back
/// to the same model.
public enum YAMLWriter {
    public static func yaml(of topology: Topology, header: [String] = []) -> String {
        var lines = header.map { $0.isEmpty ? "#" : "# " + $0 }
        lines.append("name: \(scalar(topology.name))")
        if !topology.prefix.isEmpty { lines.append("prefix: \(scalar(topology.prefix))") }
        if let mode = topology.neighbours { lines.append("neighbours: \(mode.rawValue)") }
        if let ttl = topology.ttl { lines.append("ttl: \(ttl)") }
        // `static`'s routes are in the nodes already, written as routes.
        if topology.routing.isDynamic { lines.append("routing: \(topology.routing.rawValue)") }
        if let host = topology.placedOn { lines.append("placed-on: \(scalar(host))") }
        lines += spreadLines(topology)
        lines.append("nodes:")
        for node in topology.nodes {
            lines += nodeLines(node)
        }
        if !topology.links.isEmpty {
            lines.append("links:")
            for link in topology.links {
                lines.append("  - " + linkText(link))
            }
        }
        if !topology.remoteNodes.isEmpty {
            lines.append("remote:")
            for node in topology.remoteNodes {
                let interfaces = node.interfaces.map { "\(scalar($0.interface)): \(addressList($0.addresses))" }
                let asNumber = node.asNumber.map { "as: \($0), " } ?? ""
                lines.append("  \(scalar(node.name)): { host: \(scalar(node.host)), kind: \(node.kind.rawValue), \(asNumber)"
                             + "interfaces: { \(interfaces.joined(separator: ", ")) } }")
            }
        }
        if !topology.expectations.isEmpty {
            lines.append("expect:")
            lines += topology.expectations.map { "  - " + scalar($0.text) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `hosts:` and `vxlan:`.
    private static func spreadLines(_ topology: Topology) -> [String] {
        var lines: [String] = []
        if !topology.hosts.isEmpty {
            lines.append("hosts:")
            for host in topology.hosts {
                var fields = ["ssh: \(scalar(host.ssh))"]
                if let underlay = host.underlay { fields.append("underlay: \(scalar(underlay.description))") }
                if let command = host.command { fields.append("nslab: \(scalar(command))") }
                lines.append("  \(scalar(host.name)): { " + fields.joined(separator: ", ") + " }")
            }
        }
        if topology.vxlan != VXLANPlan() {
            let local = topology.vxlan.local.map { ", local: \(scalar($0.description))" } ?? ""
            lines.append("vxlan: { vni: \(topology.vxlan.vnis.lowerBound)-\(topology.vxlan.vnis.upperBound), port: \(topology.vxlan.port)\(local) }")
        }
        return lines
    }

    private static func nodeLines(_ node: Node) -> [String] {
        var fields: [String] = []
        if node.kind != .host { fields.append("kind: \(node.kind.rawValue)") }
        if let host = node.host { fields.append("host: \(scalar(host))") }
        if node.stp { fields.append("stp: true") }
        // Filtering follows from the ports' VLANs; said only when no port has any.
        if node.vlanFiltering { fields.append("vlan-filtering: true") }
        if !node.routes.isEmpty {
            fields.append("routes: [" + node.routes.map { scalar($0.text) }.joined(separator: ", ") + "]")
        }
        if !node.commands.isEmpty {
            fields.append("commands: [" + node.commands.map(commandText).joined(separator: ", ") + "]")
        }
        if let asNumber = node.asNumber { fields.append("as: \(asNumber)") }
        if let area = node.area { fields.append("area: \(area.value)") }
        if let routerID = node.routerID { fields.append("router-id: \(routerID)") }
        if let frr = node.frr {
            var settings = ["config: " + quoted(frr.config)]
            if frr.replacesGenerated { settings.append("replace: true") }
            if !frr.daemons.isEmpty { settings.append("daemons: [" + frr.daemons.joined(separator: ", ") + "]") }
            fields.append("frr: { " + settings.joined(separator: ", ") + " }")
        }
        let head = "  \(scalar(node.name)):"
        guard !node.files.isEmpty else { return [head + (fields.isEmpty ? "" : " { " + fields.joined(separator: ", ") + " }")] }
        // Files are written as blocks under the node, so that a hosts file reads as one.
        var lines = [head] + fields.map { "    " + $0 }
        lines.append("    files:")
        for file in node.files {
            lines += fileLines(file, indent: "      ")
        }
        return lines
    }

    private static func commandText(_ command: NodeCommand) -> String {
        if command.argv.count == 3, command.argv[0] == "/bin/sh", command.argv[1] == "-c" { return scalar(command.argv[2]) }
        return "[" + command.argv.map(scalar).joined(separator: ", ") + "]"
    }

    /// A literal block (`|`) when the content reads back exactly through one, a quoted string
    /// otherwise.
    private static func fileLines(_ file: NodeFile, indent: String) -> [String] {
        let key = indent + scalar(file.name) + ":"
        let text = file.content
        let blockSafe = text.hasSuffix("\n") && !text.hasSuffix("\n\n") && !text.hasPrefix(" ") && !text.hasPrefix("\n")
            && !text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0 == "\u{7f}" }
        guard blockSafe else { return [key + " " + quoted(text)] }
        return [key + " |"] + text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.isEmpty ? "" : indent + "  " + $0
        }
    }

    private static func linkText(_ link: Link) -> String {
        let ends = link.endpoints
        // The short form carries names and addresses (and one MTU for both ends); anything more
        // needs an endpoint mapping.
        let sharedMTU = ends.count == 2 && ends[0].mtu == ends[1].mtu ? ends[0].mtu : nil
        let sharedCost = ends.count == 2 && ends[0].cost == ends[1].cost ? ends[0].cost : nil
        let needsMapping = ends.contains {
            ($0.mtu != nil && $0.mtu != sharedMTU) || $0.mac != nil || $0.impairment != nil || $0.portVLANs != nil
                || !$0.subinterfaces.isEmpty || ($0.cost != nil && $0.cost != sharedCost)
        }
        var fields: [String]
        if needsMapping {
            fields = ["endpoints: [" + ends.map { endpointMapping($0, omittingMTU: sharedMTU, cost: sharedCost) }.joined(separator: ", ") + "]"]
        } else {
            fields = ["endpoints: [" + ends.map { scalar($0.id) }.joined(separator: ", ") + "]"]
            if ends.contains(where: { !$0.addresses.isEmpty }) {
                fields.append("addresses: [" + ends.map { addressList($0.addresses) }.joined(separator: ", ") + "]")
            }
        }
        if let sharedMTU { fields.append("mtu: \(sharedMTU)") }
        if let sharedCost { fields.append("cost: \(sharedCost)") }
        if let area = link.area { fields.append("area: \(area.value)") }
        if link.isDown { fields.append("state: down") }
        if let impairment = link.impairment { fields.append("impair: " + impairmentText(impairment)) }
        if let flap = link.flap { fields.append("flap: " + flapText(flap)) }
        if let vni = link.vni { fields.append("vni: \(vni)") }
        if let tunnel = link.tunnel {
            var settings = ["vni: \(tunnel.vni)", "remote: \(scalar(tunnel.remote.description))"]
            if let local = tunnel.local { settings.append("local: \(scalar(local.description))") }
            if tunnel.port != VXLANPlan.defaultPort { settings.append("port: \(tunnel.port)") }
            if let peer = tunnel.peer { settings.append("peer: \(scalar(peer))") }
            fields.append("vxlan: { " + settings.joined(separator: ", ") + " }")
        }
        return "{ " + fields.joined(separator: ", ") + " }"
    }

    private static func endpointMapping(_ end: Endpoint, omittingMTU sharedMTU: UInt32?, cost sharedCost: UInt32?) -> String {
        var fields = ["node: \(scalar(end.node))", "interface: \(scalar(end.interface))"]
        if let cost = end.cost, cost != sharedCost { fields.append("cost: \(cost)") }
        if !end.addresses.isEmpty { fields.append("addresses: " + addressList(end.addresses)) }
        if let mtu = end.mtu, mtu != sharedMTU { fields.append("mtu: \(mtu)") }
        if let mac = end.mac {
            fields.append("mac: \"" + mac.map { hexByte($0) }.joined(separator: ":") + "\"")
        }
        if let impairment = end.impairment { fields.append("impair: " + impairmentText(impairment)) }
        if let vlans = end.portVLANs {
            if vlans.tagged.isEmpty, let access = vlans.untagged {
                fields.append("vlan: \(access)")
            } else {
                fields.append("vlans: [" + vlans.tagged.map(String.init).joined(separator: ", ") + "]")
                if let native = vlans.untagged { fields.append("native: \(native)") }
            }
        }
        if !end.subinterfaces.isEmpty {
            let subs = end.subinterfaces.map { sub in
                "\(sub.vlan): { interface: \(scalar(sub.name))"
                    + (sub.addresses.isEmpty ? "" : ", addresses: " + addressList(sub.addresses)) + " }"
            }
            fields.append("vlans: { " + subs.joined(separator: ", ") + " }")
        }
        return "{ " + fields.joined(separator: ", ") + " }"
    }

    private static func impairmentText(_ impairment: Impairment) -> String {
        "{ " + impairment.settings.map { "\($0.key): \(scalar($0.value))" }.joined(separator: ", ") + " }"
    }

    private static func flapText(_ flap: FlapSchedule) -> String {
        "{ " + flap.fields.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + " }"
    }

    private static func addressList(_ addresses: [IPPrefix]) -> String {
        switch addresses.count {
        case 0: return "~"
        case 1: return scalar(addresses[0].description)
        default: return "[" + addresses.map { scalar($0.description) }.joined(separator: ", ") + "]"
        }
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }

    /// Plain when YAML reads it back as the same string, double-quoted otherwise (IPv6 addresses
    /// and anything with flow or comment characters).
    public static func scalar(_ text: String) -> String {
        // "node:interface" reads back plain; a ':' at either end, before a space or doubled
        // (IPv6) does not.
        let colonIsSafe = !text.hasPrefix(":") && !text.hasSuffix(":") && !text.contains("::") && !text.contains(": ")
        var special: Set<Character> = ["#", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`", "\t"]
        if !colonIsSafe { special.insert(":") }
        let plain = !text.isEmpty && !text.contains(where: { special.contains($0) || $0.isNewline })
            && !text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
            && text.first.map { !$0.isWhitespace && $0 != "-" && $0 != "?" } == true
            && text.last.map { !$0.isWhitespace } == true
            && !["~", "null", "true", "false", "yes", "no", "on", "off"].contains(text.lowercased())
            && Double(text) == nil
        return plain ? text : quoted(text)
    }

    /// A double-quoted YAML string that reads back as exactly `text`.
    public static func quoted(_ text: String) -> String {
        var escaped = ""
        for character in text.unicodeScalars {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            default:
                if character.value < 0x20 || character.value == 0x7f {
                    let hex = String(character.value, radix: 16)
                    escaped += "\\x" + (hex.count == 1 ? "0" : "") + hex
                } else {
                    escaped.unicodeScalars.append(character)
                }
            }
        }
        return "\"" + escaped + "\""
    }
}

extension Topology {
    /// The text a deploy records and converges from: the file itself for an nslab file; for a
    /// file in another format (containerlab), the nslab file it amounts to, with its bound files
    /// inlined, so the record never depends on files beside the original.
    public func recordedText(source: String) -> String {
        switch format {
        case .nslab: return source
        case .containerlab: return YAMLWriter.yaml(of: self, header: ["converted by nslab from the containerlab topology \(file)"])
        }
    }
}
