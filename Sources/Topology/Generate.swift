import NetAddress

/// The shapes people test with, as complete topologies: nodes, links, an address on every link
/// end and static routes so that every node reaches every other.
///
/// Addresses: link number k (from 0; in file order, except in a grid or torus, see `grid`) gets
/// the /30 at 10.0.0.0 + 4k (its ends .1 and .2 of that block) and, with `dualStack`,
/// fd00:0:0:k::1/64 and ::2/64. Nodes with more than one link are routers, nodes with one are
/// hosts. Routes come from `StaticRouting`.
public struct GeneratedShape: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case star, chain, ring, grid, torus, tree
        case leafSpine = "leaf-spine"
    }

    public enum Problem: Error, CustomStringConvertible, Sendable {
        case invalid(String)
        public var description: String {
            switch self { case .invalid(let text): return text }
        }
    }

    /// One link per pair, in order.
    var nodes: [String] = []
    var links: [(String, String)] = []
    /// The subnet number of each link (the k above); empty: its position in `links`.
    var subnets: [Int] = []

    /// The largest lab nslab deploys; 10.0.0.0/8 would hold far more /30 blocks.
    public static let maximumLinks = TopologyLimits.links

    public static func star(leaves: Int) throws -> GeneratedShape {
        try require(leaves >= 1, "a star needs at least 1 leaf (--leaves)")
        var shape = GeneratedShape()
        shape.nodes = ["hub"] + (1...leaves).map { "leaf\($0)" }
        shape.links = (1...leaves).map { ("hub", "leaf\($0)") }
        return try shape.checked()
    }

    public static func chain(nodes count: Int) throws -> GeneratedShape {
        try require(count >= 2, "a chain needs at least 2 nodes (--nodes)")
        var shape = GeneratedShape()
        shape.nodes = (1...count).map { "n\($0)" }
        shape.links = (1..<count).map { ("n\($0)", "n\($0 + 1)") }
        return try shape.checked()
    }

    public static func ring(nodes count: Int) throws -> GeneratedShape {
        try require(count >= 3, "a ring needs at least 3 nodes (--nodes)")
        var shape = GeneratedShape()
        shape.nodes = (1...count).map { "r\($0)" }
        shape.links = (1...count).map { ("r\($0)", "r\($0 % count + 1)") }
        return try shape.checked()
    }

    /// Rows × columns, each node linked to its right and lower neighbour; a torus also wraps
    /// around both ways (mininet's torus).
    ///
    /// Laid out so that a node's routes through one neighbour are a few blocks of addresses, as
    /// a network engineer would plan it: routing: static takes, of equal-cost paths, the one
    /// through the node's first link in file order, so the rows' links are listed first and then
    /// the columns', which makes every path go along its row first and then along the column
    /// (X, then Y). The subnets are numbered column by column: column c's vertical links (last
    /// row first), then the links from column c to c + 1 (first row first). Through its right
    /// neighbour a node then reaches one run of subnets (every column to its right), through its
    /// left one run, up and down two each; merged, a 100×100 grid needs about 40 routes a node
    /// where numbering row by row needed 983.
    public static func grid(rows: Int, columns: Int, torus: Bool) throws -> GeneratedShape {
        let minimum = torus ? 3 : 1
        try require(rows >= minimum && columns >= minimum && rows * columns >= 2,
                    torus ? "a torus needs at least 3 rows and 3 columns (--rows, --columns)"
                          : "a grid needs at least 2 nodes (--rows, --columns)")
        var shape = GeneratedShape()
        func name(_ row: Int, _ column: Int) -> String { "r\(row + 1)-\(column + 1)" }
        for row in 0..<rows { for column in 0..<columns { shape.nodes.append(name(row, column)) } }
        // Links from (row, column) to the right and down; the last column and row only in a torus.
        let across = torus ? columns : columns - 1, down = torus ? rows : rows - 1
        for row in 0..<rows {
            for column in 0..<across { shape.links.append((name(row, column), name(row, (column + 1) % columns))) }
        }
        for row in 0..<down {
            for column in 0..<columns { shape.links.append((name(row, column), name((row + 1) % rows, column))) }
        }
        // Subnet numbers: per column, its vertical links bottom-up, then its rightward links top-down.
        shape.subnets = [Int](repeating: 0, count: shape.links.count)
        var number = 0
        for column in 0..<columns {
            for row in stride(from: down - 1, through: 0, by: -1) {
                shape.subnets[rows * across + row * columns + column] = number
                number += 1
            }
            guard column < across else { continue }
            for row in 0..<rows {
                shape.subnets[row * across + column] = number
                number += 1
            }
        }
        return try shape.checked()
    }

    /// A root with `fanout` children per node, `depth` levels below the root.
    public static func tree(depth: Int, fanout: Int) throws -> GeneratedShape {
        try require(depth >= 1 && fanout >= 1, "a tree needs --depth and --fanout of at least 1")
        var shape = GeneratedShape()
        var level = ["t"]
        shape.nodes = level
        for _ in 1...depth {
            var next: [String] = []
            for parent in level {
                for child in 1...fanout {
                    let name = parent + "-\(child)"
                    next.append(name)
                    shape.links.append((parent, name))
                }
            }
            shape.nodes += next
            level = next
            try require(shape.nodes.count <= maximumLinks + 1, "the tree would have more than \(maximumLinks) links")
        }
        return try shape.checked()
    }

    /// Every leaf switch linked to every spine, `hostsPerLeaf` hosts below each leaf.
    public static func leafSpine(spines: Int, leaves: Int, hostsPerLeaf: Int) throws -> GeneratedShape {
        try require(spines >= 1 && leaves >= 2 && hostsPerLeaf >= 0,
                    "leaf-spine needs at least 1 spine (--spines), 2 leaves (--leaves) and 0 or more hosts per leaf (--hosts)")
        var shape = GeneratedShape()
        shape.nodes = (1...spines).map { "spine\($0)" } + (1...leaves).map { "leaf\($0)" }
        for leaf in 1...leaves { for spine in 1...spines { shape.links.append(("leaf\(leaf)", "spine\(spine)")) } }
        if hostsPerLeaf > 0 {
            for leaf in 1...leaves {
                for host in 1...hostsPerLeaf {
                    shape.nodes.append("host\(leaf)-\(host)")
                    shape.links.append(("leaf\(leaf)", "host\(leaf)-\(host)"))
                }
            }
        }
        return try shape.checked()
    }

    private static func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw Problem.invalid(message) }
    }

    private func checked() throws -> GeneratedShape {
        try Self.require(links.count <= Self.maximumLinks,
                         "\(links.count) links is more than nslab deploys (\(Self.maximumLinks))")
        try Self.require(nodes.count <= TopologyLimits.nodes,
                         "\(nodes.count) nodes is more than nslab deploys (\(TopologyLimits.nodes))")
        return self
    }

    /// The shape as a lab: interfaces eth0, eth1, … per node in link order, addresses, kinds
    /// and routes: computed static ones, or with `routing` OSPF or BGP, the hosts' only (the
    /// routers' come from FRR).
    public func topology(name: String, prefix: String = "", dualStack: Bool = false, routing: RoutingMode = .static) -> Topology {
        let here = SourceLocation(file: "generated", line: 1, column: 1)
        var degree: [String: Int] = [:]
        for (a, b) in links { degree[a, default: 0] += 1; degree[b, default: 0] += 1 }
        var nextInterface: [String: Int] = [:]
        func interface(on node: String) -> String {
            let number = nextInterface[node, default: 0]
            nextInterface[node] = number + 1
            return "eth\(number)"
        }
        let topologyLinks = links.enumerated().map { position, pair in
            let number = subnets.isEmpty ? position : subnets[position]
            let base = UInt32(10) << 24 | UInt32(number) * 4
            func addresses(_ host: UInt32) -> [IPPrefix] {
                var list = [IPPrefix(address: .v4(base + host), length: 30)].compactMap { $0 }
                if dualStack {
                    list += [IPPrefix(address: .v6(0xfd00_0000_0000_0000 | UInt64(number), UInt64(host)), length: 64)]
                        .compactMap { $0 }
                }
                return list
            }
            return Link(endpoints: [
                Endpoint(node: pair.0, interface: interface(on: pair.0), addresses: addresses(1), location: here),
                Endpoint(node: pair.1, interface: interface(on: pair.1), addresses: addresses(2), location: here),
            ], location: here)
        }
        let topologyNodes = nodes.map { name in
            Node(name: name, kind: degree[name, default: 0] > 1 ? .router : .host, location: here)
        }
        let plain = Topology(name: name, prefix: prefix, nodes: topologyNodes, links: topologyLinks, file: "generated",
                             routing: routing)
        switch routing {
        case .static: return StaticRouting.apply(to: plain, aggregated: true)
        case .ospf, .bgp: return StaticRouting.apply(to: plain, aggregated: true, only: { !$0.kind.forwards })
        case .none: return plain
        }
    }
}
