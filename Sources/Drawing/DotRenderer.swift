import Topology

/// Graphviz's DOT language: what `dot -Tsvg` and `dot -Tpng` lay out. Hosts are rounded blue
/// boxes, routers orange ellipses, bridges green hexagons. Each node lists its link ends, one row
/// per interface with its addresses (an HTML-like label), and every link runs between the two
/// rows of its ends (ports), so no label floats beside a line where it could cover another. A
/// down link is red and dashed, an impaired one orange with its impairment written on it.
public enum DotRenderer {
    /// How Graphviz places the nodes.
    public enum Layout: String, Sendable, CaseIterable {
        /// `dot`, left to right in ranks by distance from the first node: flows, trees, stars,
        /// and any lab with a node of many links (its list of interfaces stays one straight column).
        case ranked
        /// `neato`, force placement: meshes of nodes with few links each (grids, tori, rings),
        /// which ranks would stretch into a long diagonal band.
        case force
    }

    /// Ranked, except for labs of more than 40 nodes none of which has more than 6 links.
    public static func layout(for picture: Picture) -> Layout {
        var degree: [String: Int] = [:]
        for link in picture.links { for end in [link.a, link.b] { degree[end.node, default: 0] += 1 } }
        return picture.nodes.count > 40 && (degree.values.max() ?? 0) <= 6 ? .force : .ranked
    }

    static let style: [NodeKind: (shape: String, style: String, fill: String, line: String)] = [
        .host: ("box", "rounded,filled", "#dcebf7", "#2f6fa5"),
        .router: ("ellipse", "filled", "#fde2c4", "#c46a1b"),
        .bridge: ("hexagon", "filled", "#dff0d8", "#3c7d3c"),
    ]
    static let downColour = "#d62728"
    static let impairedColour = "#d97800"

    public static func render(_ picture: Picture, layout chosen: Layout? = nil) -> String {
        let layout = chosen ?? layout(for: picture)
        let large = picture.nodes.count > 40
        // Small labs flow from their first node, as their author wrote them; large ones from their centre.
        let levels = picture.levels(fromCentre: large && picture.nodes.count <= 1000)
        var out = ["// nslab graph: \(picture.source.replacing("\n", with: " ")): \(picture.summary)"]
        out.append("graph \(quote(picture.name)) {")
        let title = "lab \(picture.name)\(picture.isLive ? " (live)" : ""): \(picture.summary)\n" + legend(picture)
        var graph = ["label=\(quote(title))", "labelloc=t", "fontname=\"Helvetica\"", "fontsize=12", "pad=0.3"]
        switch layout {
        case .force: graph += ["layout=neato", "overlap=false", "sep=\"+10\"", "splines=true"]
        case .ranked: graph += ["layout=dot", "rankdir=LR", "ranksep=\(large ? "1.4" : "1.0")", "nodesep=\(large ? "0.05" : "0.4")", "splines=true"]
        }
        out.append("  graph [\(graph.joined(separator: ", "))];")
        out.append("  node [fontname=\"Helvetica\", fontsize=11, penwidth=1.5, margin=0.04];")
        out.append("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\", penwidth=1.4];")
        // Each node's link ends, in link order: the rows of its label and the ports links attach to.
        var ports: [String: [(end: Picture.End, port: String)]] = [:]
        var portOf: [String: String] = [:]
        for link in picture.links {
            for end in [link.a, link.b] where portOf[end.id] == nil {
                let port = "p\(ports[end.node, default: []].count)"
                ports[end.node, default: []].append((end, port))
                portOf[end.id] = port
            }
        }
        for node in picture.nodes {
            let look = style[node.kind] ?? ("box", "filled", "#ffffff", "#000000")
            var rows = ["<TR><TD><B>\(html(node.name))</B></TD></TR>"]
            if node.missing { rows.append("<TR><TD><FONT COLOR=\"\(downColour)\">missing</FONT></TD></TR>") }
            if node.stopped { rows.append("<TR><TD><FONT COLOR=\"\(downColour)\">stopped</FONT></TD></TR>") }
            let ends = ports[node.name] ?? []
            var tablePort = ""
            for (end, port) in ends {
                let text = ([end.interface] + end.labelParts).map(html).joined(separator: " ")
                let font = "<FONT POINT-SIZE=\"9\">\(text)</FONT>"
                // In a large lab a node of one link is one line, name and interface side by side,
                // so that a column of them is about as tall as the interface list they link to;
                // its link attaches to the whole line (the table's port), never across its text.
                if large && ends.count == 1 && !node.missing {
                    rows = ["<TR><TD><B>\(html(node.name))</B> </TD><TD>\(font)</TD></TR>"]
                    tablePort = " PORT=\"\(port)\""
                } else {
                    // The rows of a node of many links are spaced as its one-line neighbours
                    // are, so that its links run straight across to them.
                    let padding = large && ends.count > 8 ? " CELLPADDING=\"7\"" : ""
                    rows.append("<TR><TD PORT=\"\(port)\" ALIGN=\"LEFT\"\(padding)>\(font)</TD></TR>")
                }
            }
            let table = "<<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\"\(tablePort)>\(rows.joined())</TABLE>>"
            var attributes = ["shape=\(look.shape)", "style=\(quote(look.style + (node.missing || node.stopped ? ",dashed" : "")))",
                              "fillcolor=\(quote(node.missing ? "#eeeeee" : look.fill))", "color=\(quote(look.line))",
                              "label=\(table)"]
            if !tablePort.isEmpty { attributes.append("height=0.25") }
            out.append("  \(quote(node.name)) [\(attributes.joined(separator: ", "))];")
        }
        for link in picture.links {
            var attributes: [String] = []
            var middle: [String] = []
            if link.isDown {
                middle.append("DOWN")
                attributes += ["color=\(quote(downColour))", "fontcolor=\(quote(downColour))", "style=dashed", "penwidth=2.5"]
            } else if link.isImpaired {
                attributes += ["color=\(quote(impairedColour))", "fontcolor=\(quote(impairedColour))", "penwidth=2.5"]
            }
            middle += link.impairmentLines
            if !middle.isEmpty { attributes.append("label=\(quote(middle.joined(separator: "\n")))") }
            // Ranked left to right, a link goes from the end nearer the first node (its tail, on
            // the left) to the other, leaving its tail's row on the right and entering its head's on the left.
            let ranked = layout == .ranked
            let flipped = ranked && (levels[link.b.node] ?? 0) < (levels[link.a.node] ?? 0)
            let sides = ranked ? [":e", ":w"] : ["", ""]
            let ends = zip(flipped ? [link.b, link.a] : [link.a, link.b], sides).map { end, side in
                quote(end.node) + (portOf[end.id].map { ":" + quote($0) + side } ?? "")
            }
            out.append("  \(ends[0]) -- \(ends[1])" + (attributes.isEmpty ? "" : " [\(attributes.joined(separator: ", "))]") + ";")
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    /// What the shapes and colours in this picture mean: "hosts: blue boxes, routers: orange ellipses; red dashed: down".
    static func legend(_ picture: Picture) -> String {
        let kinds: [(NodeKind, String)] = [(.host, "hosts: blue boxes"), (.router, "routers: orange ellipses"),
                                           (.bridge, "bridges: green hexagons")]
        var text = kinds.filter { kind in picture.nodes.contains { $0.kind == kind.0 } }.map(\.1).joined(separator: ", ")
        let links = [picture.links.contains(where: \.isDown) ? "red dashed: down" : nil,
                     picture.links.contains { !$0.isDown && $0.isImpaired } ? "orange: impaired" : nil].compactMap { $0 }
        if !links.isEmpty { text += "; " + links.joined(separator: ", ") }
        return text
    }

    static let htmlEntities: [Unicode.Scalar: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"]
    static let stringEscapes: [Unicode.Scalar: String] = ["\"": "\\\"", "\\": "\\\\", "\n": "\\n"]

    /// Text inside an HTML-like label: `&`, `<`, `>` and `"` as entities.
    static func html(_ text: String) -> String {
        escaping(text) { htmlEntities[$0] }
    }

    /// A DOT string: quoted, with `"` and `\` escaped (a backslash would otherwise start one of
    /// Graphviz's label escapes such as `\N`), line breaks as `\n`, other control characters as spaces.
    public static func quote(_ text: String) -> String {
        "\"" + escaping(text) { stringEscapes[$0] } + "\""
    }
}
