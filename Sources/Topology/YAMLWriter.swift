import NetAddress

/// Writes a topology back as a topology file: compact flow style, one node or link per line,
/// so that generated labs stay readable and diff well. `Topology.parse` reads the result back
/// to the same model.
public enum YAMLWriter {
    public static func yaml(of topology: Topology, header: [String] = []) -> String {
        var lines = header.map { "# " + $0 }
        lines.append("name: \(scalar(topology.name))")
        if !topology.prefix.isEmpty { lines.append("prefix: \(scalar(topology.prefix))") }
        if let mode = topology.neighbours { lines.append("neighbours: \(mode.rawValue)") }
        lines.append("nodes:")
        for node in topology.nodes {
            var fields: [String] = []
            if node.kind != .host { fields.append("kind: \(node.kind.rawValue)") }
            if !node.routes.isEmpty {
                fields.append("routes: [" + node.routes.map { scalar($0.text) }.joined(separator: ", ") + "]")
            }
            lines.append("  \(scalar(node.name)):" + (fields.isEmpty ? "" : " { " + fields.joined(separator: ", ") + " }"))
        }
        if !topology.links.isEmpty {
            lines.append("links:")
            for link in topology.links {
                lines.append("  - " + linkText(link))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func linkText(_ link: Link) -> String {
        let ends = link.endpoints
        // The short form carries names and addresses; anything more needs an endpoint mapping.
        let needsMapping = ends.contains { $0.mtu != nil || $0.mac != nil }
        var fields: [String]
        if needsMapping {
            fields = ["endpoints: [" + ends.map(endpointMapping).joined(separator: ", ") + "]"]
        } else {
            fields = ["endpoints: [" + ends.map { scalar($0.id) }.joined(separator: ", ") + "]"]
            if ends.contains(where: { !$0.addresses.isEmpty }) {
                fields.append("addresses: [" + ends.map { addressList($0.addresses) }.joined(separator: ", ") + "]")
            }
        }
        return "{ " + fields.joined(separator: ", ") + " }"
    }

    private static func endpointMapping(_ end: Endpoint) -> String {
        var fields = ["node: \(scalar(end.node))", "interface: \(scalar(end.interface))"]
        if !end.addresses.isEmpty { fields.append("addresses: " + addressList(end.addresses)) }
        if let mtu = end.mtu { fields.append("mtu: \(mtu)") }
        if let mac = end.mac {
            fields.append("mac: \"" + mac.map { hexByte($0) }.joined(separator: ":") + "\"")
        }
        return "{ " + fields.joined(separator: ", ") + " }"
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
    static func scalar(_ text: String) -> String {
        // "node:interface" reads back plain; a ':' at either end, before a space or doubled
        // (IPv6) does not.
        let colonIsSafe = !text.hasPrefix(":") && !text.hasSuffix(":") && !text.contains("::") && !text.contains(": ")
        var special: Set<Character> = ["#", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`"]
        if !colonIsSafe { special.insert(":") }
        let plain = !text.isEmpty && !text.contains(where: { special.contains($0) || $0.isNewline })
            && text.first.map { !$0.isWhitespace && $0 != "-" && $0 != "?" } == true
            && text.last.map { !$0.isWhitespace } == true
            && !["~", "null", "true", "false", "yes", "no", "on", "off"].contains(text.lowercased())
            && Double(text) == nil
        if plain { return text }
        var escaped = ""
        for character in text.unicodeScalars {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return "\"" + escaped + "\""
    }
}
