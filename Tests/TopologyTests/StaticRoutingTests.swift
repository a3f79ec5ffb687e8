import Foundation
import NetAddress
import Testing
@testable import Topology

/// `StaticRouting` (one search per node over integer indexes, routes merged per node as they are
/// made, reasons worded on demand) gives exactly the routes, in the same order and with the same
/// reasons, as the implementation before it (`ReferenceStaticRouting`), on generated shapes, the
/// examples and random labs with hosts, bridges, sub-interfaces and hand-written routes.
@Suite struct StaticRoutingTests {
    typealias Listing = [String: [String]]

    static func listing(_ routes: [String: [Route]]) -> Listing {
        routes.mapValues { $0.map { "\($0.text) [\($0.location)] \($0.reason ?? "-")" } }
    }

    static func expectSame(_ topology: Topology, _ what: String) {
        for aggregated in [false, true] {
            let new = listing(StaticRouting.compute(for: topology, aggregated: aggregated))
            let old = listing(ReferenceStaticRouting.compute(for: topology, aggregated: aggregated))
            #expect(new == old, "\(what), aggregated: \(aggregated)")
        }
        let only: (Node) -> Bool = { !$0.kind.forwards }
        let applied = StaticRouting.apply(to: topology, only: only).nodes.map { $0.routes.map(\.text) }
        let reference = ReferenceStaticRouting.apply(to: topology, only: only).nodes.map { $0.routes.map(\.text) }
        #expect(applied == reference, "\(what), applied to hosts only")
    }

    @Test func generatedShapesGetTheRoutesTheyGotBefore() throws {
        let shapes: [(String, GeneratedShape)] = [
            ("star", try .star(leaves: 12)), ("chain", try .chain(nodes: 17)), ("ring", try .ring(nodes: 11)),
            ("grid", try .grid(rows: 7, columns: 9, torus: false)), ("torus", try .grid(rows: 4, columns: 5, torus: true)),
            ("tree", try .tree(depth: 3, fanout: 3)), ("leaf-spine", try .leafSpine(spines: 3, leaves: 5, hostsPerLeaf: 2)),
            ("pair", try .chain(nodes: 2)), ("row", try .grid(rows: 1, columns: 6, torus: false)),
        ]
        for (name, shape) in shapes {
            for dualStack in [false, true] {
                Self.expectSame(shape.topology(name: name, dualStack: dualStack, routing: .none), "\(name) dual stack \(dualStack)")
            }
        }
    }

    @Test func examplesGetTheRoutesTheyGotBefore() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            // Without `routing:`, so that the routes compared are computed here, not at load.
            let plain = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("routing:") }.joined(separator: "\n")
            guard let topology = try? Topology.parse(yaml: plain, file: file) else { continue }
            Self.expectSame(topology, file)
        }
    }

    /// Random labs: routers, hosts and bridges, parallel links, links without addresses, dual
    /// and single stack, sub-interfaces, hand-written routes to some of the subnets.
    @Test func randomLabsGetTheRoutesTheyGotBefore() throws {
        var generator = SystemRandomNumberGenerator()
        var computed = 0
        for round in 0..<60 {
            let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
            let lab = Self.randomLab(seed: seed)
            Self.expectSame(lab, "random lab, seed \(seed) (round \(round))")
            computed += StaticRouting.compute(for: lab).values.reduce(0) { $0 + $1.count }
        }
        #expect(computed > 100, "the random labs have routes to compare")
    }

    static func randomLab(seed: UInt64) -> Topology {
        var random = SeededRandom(seed: seed)
        let here = SourceLocation(file: "random", line: 1, column: 1)
        let count = 2 + random.below(14)
        var nodes = (0..<count).map { index -> Node in
            let roll = random.below(10)
            let kind: NodeKind = roll < 5 ? .router : (roll < 8 ? .host : .bridge)
            return Node(name: "n\(index)", kind: kind, location: here)
        }
        var links: [Link] = []
        var interfaces = [Int](repeating: 0, count: count)
        var subnet: UInt32 = 0
        var written: [(node: Int, prefix: IPPrefix)] = []
        for _ in 0..<(count + random.below(2 * count)) {
            let a = random.below(count), b = random.below(count)
            guard a != b else { continue }
            func end(_ node: Int, host: UInt32) -> Endpoint {
                interfaces[node] += 1
                let name = "eth\(interfaces[node])"
                if nodes[node].kind == .bridge { return Endpoint(node: nodes[node].name, interface: name, location: here) }
                // A /24 per link end pair: both ends in the same subnet; now and then none, or a
                // second subnet on a sub-interface, or IPv6 beside IPv4.
                var addresses: [IPPrefix] = []
                if random.below(8) != 0 {
                    addresses.append(IPPrefix(address: .v4(UInt32(10) << 24 | subnet << 8 | host), length: 24)!)
                    if random.below(3) == 0 { addresses.append(IPPrefix(address: .v6(0xfd00 << 48 | UInt64(subnet), UInt64(host)), length: 64)!) }
                }
                var subinterfaces: [Subinterface] = []
                if random.below(6) == 0 {
                    subinterfaces.append(Subinterface(vlan: 10, name: name + ".10", addresses: [
                        IPPrefix(address: .v4(UInt32(172) << 24 | UInt32(16) << 16 | subnet << 8 | host), length: 24)!,
                    ], location: here))
                }
                return Endpoint(node: nodes[node].name, interface: name, addresses: addresses, location: here, subinterfaces: subinterfaces)
            }
            links.append(Link(endpoints: [end(a, host: 1), end(b, host: 2)], location: here))
            if random.below(4) == 0 {
                written.append((random.below(count), IPPrefix(address: .v4(UInt32(10) << 24 | subnet << 8), length: 24)!))
            }
            subnet += 1
        }
        // Hand-written routes (one of them a default now and then): computed ones to the same
        // destination are dropped.
        for (node, prefix) in written where nodes[node].kind != .bridge {
            let destination = random.below(5) == 0 ? IPPrefix("0.0.0.0/0")! : prefix
            nodes[node].routes.append(Route(destination: destination, gateway: .v4(UInt32(10) << 24 | 99), location: here))
        }
        return Topology(name: "random", nodes: nodes, links: links, file: "random")
    }

    /// The aggregation alone, on random sets of /30s through a few gateways and some own
    /// subnets, against the reference.
    @Test func aggregationMatchesTheReference() throws {
        var generator = SystemRandomNumberGenerator()
        let here = SourceLocation(file: "x", line: 1, column: 1)
        for _ in 0..<200 {
            let seed = UInt64.random(in: 0...UInt64.max, using: &generator)
            var random = SeededRandom(seed: seed)
            let gateways: [IPAddress] = [.v4(0x0a09_0001), .v4(0x0a09_0005), .v6(0xfd00 << 48, 1)]
            var routes: [Route] = []
            var own = Set<IPPrefix>()
            for block in 0..<(4 + random.below(60)) {
                let roll = random.below(10)
                let v4 = IPPrefix(address: .v4(UInt32(10) << 24 | UInt32(block) * 4), length: 30)!
                let v6 = IPPrefix(address: .v6(0xfd00 << 48 | UInt64(block), 0), length: 64)!
                if roll < 2 { own.insert(v4); own.insert(v6); continue }
                if roll < 3 { continue }
                let gateway = gateways[random.below(gateways.count)]
                routes.append(Route(destination: gateway.family == .ipv4 ? v4 : v6, gateway: gateway, location: here,
                                    reason: "r\(block)"))
            }
            // A block covering some of the others now and then, and a route with a device.
            if random.below(3) == 0 {
                routes.append(Route(destination: IPPrefix("10.0.0.0/28")!, gateway: gateways[0], location: here, reason: "wide"))
            }
            if random.below(3) == 0 {
                routes.append(Route(destination: IPPrefix("10.0.0.64/30")!, gateway: gateways[1], device: "eth0", location: here))
            }
            let new = StaticRouting.aggregate(routes, own: own).map { "\($0.text) \($0.reason ?? "-")" }
            let old = ReferenceStaticRouting.aggregate(routes, own: own).map { "\($0.text) \($0.reason ?? "-")" }
            #expect(new == old, "seed \(seed)")
        }
    }

    /// The reason is worded when read, from what the search found.
    @Test func reasonsAreWordedWhenRead() throws {
        let chain = try GeneratedShape.chain(nodes: 4).topology(name: "c", routing: .none)
        let routes = StaticRouting.compute(for: chain)
        #expect(routes["n1"]?.map(\.reason) == ["routing: static: n2, the only neighbour, forwards"])
        #expect(routes["n2"]?.first { $0.destination.description == "10.0.0.8/30" }?.reason
                == "routing: static: n3, on that subnet, is 1 hop away, first through n3; of equal paths, the first in file order")
        var route = try #require(routes["n2"]?.first)
        route.reason = "by hand"
        #expect(route.reason == "by hand")
        route.reason = nil
        #expect(route.reason == nil)
    }
}

/// xorshift64*, for labs that a failing seed reproduces.
struct SeededRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func below(_ bound: Int) -> Int {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Int((state &* 0x2545_f491_4f6c_dd1d) % UInt64(bound))
    }
}
