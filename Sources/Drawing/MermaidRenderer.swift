import Topology

/// A Mermaid flowchart (GitHub, GitLab and most Markdown viewers draw it): hosts as rectangles,
/// routers as stadiums, bridges as hexagons; each link labelled with both ends
/// (`node:interface address`), a down link dotted and red, an impaired one orange.
/// Nodes get plain ids (n1, n2, …) so that no name can collide with Mermaid's keywords.
public enum MermaidRenderer {
    public static func render(_ picture: Picture) -> String {
        // A comment with braces could be read as a directive (`%%{…}%%`).
        let comment = "nslab graph: \(picture.source): \(picture.summary)".map { "{}\n".contains($0) ? " " : $0 }
        var out = ["%% " + String(comment),
                   "flowchart LR"]
        var ids: [String: String] = [:]
        for (index, node) in picture.nodes.enumerated() {
            let id = "n\(index + 1)"
            ids[node.name] = id
            let text = escape(node.name) + (node.missing ? "<br>(missing)" : node.stopped ? "<br>(stopped)" : "")
            let shape: String = switch node.kind {
            case .host: "[\"\(text)\"]"
            case .router: "([\"\(text)\"])"
            case .bridge: "{{\"\(text)\"}}"
            }
            out.append("  \(id)\(shape):::\(node.missing ? "missing" : node.kind.rawValue)")
        }
        var downLinks: [Int] = [], impairedLinks: [Int] = []
        for (index, link) in picture.links.enumerated() {
            guard let a = ids[link.a.node], let b = ids[link.b.node] else { continue }
            var lines = [endText(link.a), endText(link.b)]
            if link.isDown { lines.insert("DOWN", at: 0) }
            lines += link.impairmentLines.map(escape)
            let text = "\"\(lines.joined(separator: "<br>"))\""
            out.append("  \(a) \(link.isDown ? "-.-" : "---")|\(text)| \(b)")
            if link.isDown { downLinks.append(index) } else if link.isImpaired { impairedLinks.append(index) }
        }
        out += [
            "  classDef host fill:#dcebf7,stroke:#2f6fa5",
            "  classDef router fill:#fde2c4,stroke:#c46a1b",
            "  classDef bridge fill:#dff0d8,stroke:#3c7d3c",
            "  classDef missing fill:#eeeeee,stroke:#888888,stroke-dasharray:4 3",
        ]
        if !downLinks.isEmpty {
            out.append("  linkStyle \(downLinks.map(String.init).joined(separator: ",")) stroke:\(DotRenderer.downColour),stroke-width:2px")
        }
        if !impairedLinks.isEmpty {
            out.append("  linkStyle \(impairedLinks.map(String.init).joined(separator: ",")) stroke:\(DotRenderer.impairedColour),stroke-width:2px")
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// "ns01:ns01-veth0 192.168.0.1/24", escaped.
    static func endText(_ end: Picture.End) -> String {
        escape(([end.id] + end.labelParts).joined(separator: " "))
    }

    /// Text for inside a quoted Mermaid label: Mermaid renders labels as HTML and reads `#…;` as
    /// an entity code, so `"`, `#`, `<`, `>`, `&`, `|` and the backtick (which would start a
    /// Markdown string) are written as decimal entity codes; line breaks as spaces.
    public static func escape(_ text: String) -> String {
        escaping(text) { "\"#<>&|`".unicodeScalars.contains($0) ? "#\($0.value);" : nil }
    }
}
