import NetAddress
import Testing
@testable import Topology

/// A generated grid's addressing plan and its static routes: every path is a shortest one that
/// goes along the row first, then along the column, and a node's routes stay a few dozen however
/// wide the grid (numbered row by row, a 24×24 grid needed up to 324 a node).
@Suite struct GridPlanTests {
    /// Row and column (from 0) of a generated grid node named "rR-C".
    static func position(_ name: String) -> (row: Int, column: Int) {
        let parts = name.dropFirst().split(separator: "-").map { Int($0)! - 1 }
        return (parts[0], parts[1])
    }

    /// The nodes a packet from `source` to `destination` passes, `source` first, following the
    /// longest matching route or connected subnet at each node.
    static func walk(_ topology: Topology, from source: String, to destination: IPAddress) -> [String] {
        var owner: [IPAddress: String] = [:]
        for end in topology.links.flatMap(\.endpoints) { for address in end.addresses { owner[address.address] = end.node } }
        var path = [source]
        while path.count <= topology.nodes.count, let node = path.last, owner[destination] != node {
            var best: (length: Int, next: String)?
            for end in topology.endpoints(of: node) {
                for address in end.addresses where address.network.contains(destination) && address.length > best?.length ?? -1 {
                    best = (address.length, owner[destination] ?? "")
                }
            }
            for route in topology.node(named: node)?.routes ?? [] where route.destination.contains(destination) {
                if let gateway = route.gateway, let next = owner[gateway], route.destination.length > best?.length ?? -1 {
                    best = (route.destination.length, next)
                }
            }
            guard let next = best?.next, !next.isEmpty else { break }
            path.append(next)
        }
        return path
    }

    @Test(arguments: [(5, 7, false), (8, 6, false), (1, 5, false), (5, 6, true), (4, 5, true)])
    func pathsAreShortestAndGoAlongTheRowFirst(rows: Int, columns: Int, torus: Bool) throws {
        let topology = try GeneratedShape.grid(rows: rows, columns: columns, torus: torus).topology(name: "g", dualStack: true)
        func apart(_ a: Int, _ b: Int, _ size: Int) -> Int { torus ? min(abs(a - b), size - abs(a - b)) : abs(a - b) }
        var checked = 0
        for source in topology.nodes {
            let from = Self.position(source.name)
            func hops(to name: String) -> Int {
                let to = Self.position(name)
                return apart(from.row, to.row, rows) + apart(from.column, to.column, columns)
            }
            for link in topology.links {
                for (index, end) in link.endpoints.enumerated() where end.node != source.name {
                    // A route leads to the subnet's nearer end (either, when both are as near), whose connected
                    // route delivers to the other.
                    let other = link.endpoints[1 - index].node
                    for address in end.addresses {
                        let path = Self.walk(topology, from: source.name, to: address.address)
                        let entry = other == source.name ? end.node : path.first { $0 == end.node || $0 == other } ?? end.node
                        let toEntry = Array(path.prefix(through: path.firstIndex(of: entry) ?? path.count - 1))
                        #expect(path.last == end.node && toEntry.last == entry && toEntry.count - 1 == hops(to: entry)
                                && (other == source.name || min(hops(to: end.node), hops(to: other)) == hops(to: entry)),
                                "\(source.name) → \(address.address) (\(end.node)): \(path)")
                        // Along the row while the columns differ, then along the column.
                        let column = Self.position(entry).column
                        let turned = toEntry.firstIndex { Self.position($0).column == column } ?? toEntry.count
                        #expect(toEntry[..<turned].allSatisfy { Self.position($0).row == from.row }, "\(path)")
                        #expect(toEntry[turned...].allSatisfy { Self.position($0).column == column }, "\(path)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 0)
    }

    @Test func aNodeNeedsAFewDozenRoutesHoweverWideTheGrid() throws {
        for size in [8, 24] {
            let topology = try GeneratedShape.grid(rows: size, columns: size, torus: false).topology(name: "g")
            let most = topology.nodes.map(\.routes.count).max() ?? 0
            #expect(most > 0 && most <= 40, "\(size)×\(size): at most \(most) routes a node")
        }
    }

    @Test func subnetsAreNumberedColumnByColumn() throws {
        let grid = try GeneratedShape.grid(rows: 3, columns: 2, torus: false)
        let topology = grid.topology(name: "g")
        // Rows' links first in the file, then the columns': r1-1's eth0 goes right, eth1 down.
        #expect(topology.endpoints(of: "r1-1").map(\.interface) == ["eth0", "eth1"])
        #expect(topology.links[0].endpoints.map(\.node) == ["r1-1", "r1-2"])
        #expect(topology.links[3].endpoints.map(\.node) == ["r1-1", "r2-1"])
        // Column 1's vertical links bottom-up (10.0.0.0, .4), its links to column 2 top-down
        // (.8, .12, .16), then column 2's vertical links (.20, .24).
        func subnet(_ a: String, _ b: String) -> String? {
            topology.links.first { $0.endpoints.map(\.node) == [a, b] }?.endpoints[0].addresses.first?.network.description
        }
        #expect(subnet("r2-1", "r3-1") == "10.0.0.0/30" && subnet("r1-1", "r2-1") == "10.0.0.4/30")
        #expect(subnet("r1-1", "r1-2") == "10.0.0.8/30" && subnet("r3-1", "r3-2") == "10.0.0.16/30")
        #expect(subnet("r2-2", "r3-2") == "10.0.0.20/30" && subnet("r1-2", "r2-2") == "10.0.0.24/30")
    }
}
