import Topology

/// Plain text for a terminal, never wider than `width` columns (80 by default).
///
/// Small labs are drawn: a spanning tree of each connected part, from its first node in file
/// order, nodes as `[host]`, `(router)`, `<bridge>`, each link a vertical run carrying its upper
/// end's interface and addresses, then its lower end's. A node's leaf neighbours hang side by
/// side off a branch line; its other neighbours follow below. Links the tree leaves out (those
/// closing a cycle) are listed under the drawing. Labs too big or too wide to draw get the list
/// form: the nodes by kind, then one line per link.
public enum AsciiRenderer {
    /// Labs with more nodes than this are listed, not drawn.
    public static let drawingNodeLimit = 30

    public static func render(_ picture: Picture, width: Int = 80) -> String {
        let width = max(width, 40)
        var out = wrap("lab \(picture.name) " + (picture.isLive ? "as deployed now (links and impairments read from the kernel)"
                                                             : "as \(picture.source) declares it"), width: width)
        out += wrap(picture.summary, width: width)
        if picture.nodes.count <= drawingNodeLimit, let drawing = TreeDrawing(picture, width: width).lines() {
            out += legend("[host]  (router)  <bridge>    links: | up   : DOWN   ~ impairment", width: width)
            out.append("")
            out += drawing
        } else {
            out += list(picture, width: width)
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func box(_ node: Picture.Node) -> String {
        let name: String = switch node.kind {
        case .host: "[\(node.name)]"
        case .router: "(\(node.name))"
        case .bridge: "<\(node.name)>"
        }
        return name + (node.missing ? " MISSING" : node.stopped ? " STOPPED" : "")
    }

    /// "eth0 10.0.0.1/30", further addresses on lines of their own under the first.
    static func endLines(_ end: Picture.End) -> [String] {
        let parts = end.labelParts
        guard let first = parts.first else { return [end.interface] }
        let indent = String(repeating: " ", count: end.interface.count + 1)
        return ["\(end.interface) \(first)"] + parts.dropFirst().map { indent + $0 }
    }

    /// What a link carries between its two end labels: DOWN, the impairments.
    static func middleLines(_ link: Picture.Link) -> [String] {
        (link.isDown ? ["DOWN"] : []) + link.impairmentLines.map { "~ " + $0 }
    }

    // MARK: list form

    static func list(_ picture: Picture, width: Int) -> [String] {
        var out = [""]
        out.append("nodes:")
        for kind in NodeKind.allCases {
            let names = picture.nodes.filter { $0.kind == kind }.map { $0.name + ($0.missing ? " (MISSING)" : $0.stopped ? " (STOPPED)" : "") }
            if names.isEmpty { continue }
            out += wrap("\(kind.rawValue)s (\(names.count)): " + names.joined(separator: ", "), width: width,
                        indent: "  ", continuation: "    ")
        }
        if picture.links.isEmpty { return out }
        out.append("")
        out += legend("links:   --- up   -x- DOWN   ~~~ impaired", width: width)
        out += linkLines(picture.links, width: width)
        return out
    }

    /// One line per link, `A-end --- B-end`, the B ends in one column where they fit; a link
    /// too long for a line is split after its connector, its notes on lines below.
    static func linkLines(_ links: [Picture.Link], width: Int) -> [String] {
        func endText(_ end: Picture.End) -> String { ([end.id] + end.labelParts).joined(separator: " ") }
        let column = min(links.map { endText($0.a).count }.max() ?? 0, (width - 8) / 2)
        var out: [String] = []
        for link in links {
            let (a, b) = (endText(link.a), endText(link.b))
            let connector = link.isDown ? "-x-" : link.isImpaired ? "~~~" : "---"
            let padded = a.count < column ? a + String(repeating: " ", count: column - a.count) : a
            let line = "  \(padded) \(connector) \(b)"
            if line.count <= width {
                out.append(line)
            } else {
                out += wrap(a, width: width, indent: "  ", continuation: "      ")
                out += wrap("\(connector) \(b)", width: width, indent: "    ", continuation: "        ")
            }
            out += middleLines(link).flatMap { wrap($0, width: width, indent: "      ", continuation: "        ") }
        }
        return out
    }

    // MARK: text helpers

    /// A legend as spaced out, or wrapped (its spacing lost) in a narrow terminal.
    static func legend(_ text: String, width: Int) -> [String] {
        text.count <= width ? [text] : wrap(text, width: width)
    }

    /// `text` broken at spaces into lines of at most `width` columns, the first starting with
    /// `indent`, the others with `continuation`; a word longer than a line is cut.
    static func wrap(_ text: String, width: Int, indent: String = "", continuation: String? = nil) -> [String] {
        let next = continuation ?? indent
        var lines: [String] = []
        var line = indent
        var lineIsEmpty = true
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            var word = Substring(word)
            while !word.isEmpty {
                let room = width - line.count - (lineIsEmpty ? 0 : 1)
                if word.count <= room {
                    line += (lineIsEmpty ? "" : " ") + word
                    lineIsEmpty = false
                    word = ""
                } else if lineIsEmpty {
                    let cut = max(room, 1)
                    line += word.prefix(cut)
                    word = word.dropFirst(cut)
                    lines.append(line)
                    line = next
                } else {
                    lines.append(line)
                    line = next
                    lineIsEmpty = true
                }
            }
        }
        if !lineIsEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }
}

/// The drawn form: a character grid filled top to bottom.
struct TreeDrawing {
    let picture: Picture
    let width: Int
    /// Tree children of each node: (child, link index, whether the child is the link's `b` end).
    private var children: [String: [(child: String, link: Int, childIsB: Bool)]] = [:]
    private var roots: [String] = []
    private var isolated: [String] = []
    private var extra: [Int] = []
    private var grid: [[Character]] = []

    init(_ picture: Picture, width: Int) {
        self.picture = picture
        self.width = width
        // Breadth first from the first node of each connected part, links in file order.
        var neighbours: [String: [(String, Int, Bool)]] = [:]
        for (index, link) in picture.links.enumerated() where link.a.node != link.b.node {
            neighbours[link.a.node, default: []].append((link.b.node, index, true))
            neighbours[link.b.node, default: []].append((link.a.node, index, false))
        }
        var seen = Set<String>(), used = Set<Int>()
        for node in picture.nodes where !seen.contains(node.name) {
            seen.insert(node.name)
            if neighbours[node.name] == nil {
                isolated.append(node.name)
                continue
            }
            roots.append(node.name)
            var queue = [node.name], head = 0
            while head < queue.count {
                let current = queue[head]
                head += 1
                for (other, link, otherIsB) in neighbours[current] ?? [] where !seen.contains(other) {
                    seen.insert(other)
                    used.insert(link)
                    children[current, default: []].append((other, link, otherIsB))
                    queue.append(other)
                }
            }
        }
        extra = picture.links.indices.filter { !used.contains($0) }
    }

    /// The drawing, or nil when it would be wider than `width`.
    func lines() -> [String]? {
        var drawing = self
        var row = 0
        for root in roots {
            row = drawing.draw(root, column: 0, row: row) + 1
        }
        var out = drawing.grid.map { row in String(row[..<(row.lastIndex { $0 != " " }.map { $0 + 1 } ?? 0)]) }
        while out.last == "" { out.removeLast() }
        guard out.allSatisfy({ $0.count <= width }) else { return nil }
        if !isolated.isEmpty {
            if !out.isEmpty { out.append("") }
            out += AsciiRenderer.wrap("not linked: " + isolated.compactMap { picture.node(named: $0).map(AsciiRenderer.box) }
                .joined(separator: "  "), width: width, continuation: "  ")
        }
        if !extra.isEmpty {
            out += ["", "also linked (closing cycles, not drawn above):"]
            out += AsciiRenderer.linkLines(extra.map { picture.links[$0] }, width: width)
        }
        return out
    }

    private mutating func put(_ text: String, row: Int, column: Int) {
        while grid.count <= row { grid.append([]) }
        var line = grid[row]
        let end = column + text.count
        if line.count < end { line += Array(repeating: " ", count: end - line.count) }
        for (offset, character) in text.enumerated() { line[column + offset] = character }
        grid[row] = line
    }

    private func character(row: Int, column: Int) -> Character {
        row < grid.count && column < grid[row].count ? grid[row][column] : " "
    }

    private func node(_ name: String) -> Picture.Node {
        picture.node(named: name) ?? Picture.Node(name: name, kind: .host)
    }

    /// The link's label lines from parent to child (at least `height` of them: blank run lines
    /// between the ends' labels make up the difference), and the character its run is drawn with.
    private func label(_ kid: (child: String, link: Int, childIsB: Bool), height: Int = 0) -> (lines: [String], run: Character) {
        let link = picture.links[kid.link]
        let (upper, lower) = kid.childIsB ? (link.a, link.b) : (link.b, link.a)
        var middle = AsciiRenderer.middleLines(link).map { "  " + $0 }
        if middle.isEmpty { middle = [""] }
        let (top, bottom) = (AsciiRenderer.endLines(upper), AsciiRenderer.endLines(lower))
        middle += Array(repeating: "", count: max(0, height - top.count - middle.count - bottom.count))
        return (top + middle + bottom, link.isDown ? ":" : "|")
    }

    /// Columns a child hanging off a branch takes: its box, or its labels after the run.
    private func extent(_ kid: (child: String, link: Int, childIsB: Bool)) -> Int {
        max(AsciiRenderer.box(node(kid.child)).count, 3 + (label(kid).lines.map(\.count).max() ?? 0))
    }

    /// Draws a link's run and labels down from `row` at `column`; returns the row after them.
    private mutating func drawRun(_ label: (lines: [String], run: Character), column: Int, row: Int) -> Int {
        for (offset, text) in label.lines.enumerated() {
            put(text.isEmpty ? String(label.run) : "\(label.run) \(text)", row: row + offset, column: column)
        }
        return row + label.lines.count
    }

    /// Draws `name` with its box at `column` and its subtree below; returns the next free row.
    private mutating func draw(_ name: String, column: Int, row start: Int) -> Int {
        put(AsciiRenderer.box(node(name)), row: start, column: column)
        var row = start + 1
        let stem = column + 1
        let kids = children[name] ?? []
        let inner = kids.filter { children[$0.child] != nil }
        let leaves = kids.filter { children[$0.child] == nil }
        let straight = inner.last ?? (leaves.count == 1 ? leaves.first : nil)

        // Groups hanging off the stem: rows of leaves side by side, then each inner child but the last.
        var groups: [[(child: String, link: Int, childIsB: Bool)]] = []
        var current: [(child: String, link: Int, childIsB: Bool)] = []
        var used = stem + 3
        for kid in leaves where straight.map({ $0.link != kid.link }) ?? true {
            let extent = extent(kid)
            if !current.isEmpty && used + extent > width {
                groups.append(current)
                current = []
                used = stem + 3
            }
            current.append(kid)
            used += extent + 2
        }
        if !current.isEmpty { groups.append(current) }
        groups += inner.dropLast().map { [$0] }

        for (index, group) in groups.enumerated() {
            let continuing = index < groups.count - 1 || straight != nil
            // Box columns side by side from the stem (from the parent's own column when nothing follows).
            var boxes: [Int] = []
            var box = continuing ? stem + 3 : column
            for kid in group {
                boxes.append(box)
                box += extent(kid) + 2
            }
            // The boxes of a row of leaves line up: shorter runs are drawn longer.
            let height = group.map { label($0).lines.count }.max() ?? 0
            let branchRow = row
            if let last = boxes.last, last + 1 > stem {
                put(String(repeating: "-", count: last + 1 - stem), row: branchRow, column: stem)
            }
            put("+", row: branchRow, column: stem)
            var end = row + 1
            for (kid, box) in zip(group, boxes) {
                put("+", row: branchRow, column: box + 1)
                let boxRow = drawRun(label(kid, height: height), column: box + 1, row: branchRow + 1)
                end = max(end, draw(kid.child, column: box, row: boxRow))
            }
            row = end
            if continuing {
                for line in (branchRow + 1)...row where character(row: line, column: stem) == " " {
                    put("|", row: line, column: stem)
                }
                row += 1
            }
        }
        if let straight {
            row = drawRun(label(straight), column: stem, row: row)
            row = draw(straight.child, column: column, row: row)
        }
        return row
    }
}
