import Testing
@testable import Topology

/// How long a lab's longest path is, against the TTL: the bounds that skip the search from every
/// node must give the same answer as that search.
@Suite("Topology: the longest path and the TTL nodes send with")
struct PathLengthTests {
    let here = SourceLocation(file: "t", line: 1, column: 1)

    func generated(_ shape: GeneratedShape) -> Topology { shape.topology(name: "p", routing: .none) }

    @Test func chainsAreLongFromSixtyFiveLinks() throws {
        // The generated chain's ends are hosts: n1 to nN crosses N - 1 links.
        #expect(PathLengths(generated(try .chain(nodes: 65))).pathLonger(than: 64) == nil)
        #expect(PathLengths(generated(try .chain(nodes: 66))).pathLonger(than: 64) == 65)
        #expect(PathLengths(generated(try .chain(nodes: 70))).pathLonger(than: 64) == 69)
    }

    @Test func gridsAreLongFromADiameterOfSixtyFive() throws {
        // A grid's diameter is (rows - 1) + (columns - 1).
        #expect(PathLengths(generated(try .grid(rows: 33, columns: 33, torus: false))).pathLonger(than: 64) == nil)
        #expect(PathLengths(generated(try .grid(rows: 33, columns: 34, torus: false))).pathLonger(than: 64) == 65)
        #expect(PathLengths(generated(try .grid(rows: 100, columns: 100, torus: false))).pathLonger(than: 64) == 198)
        #expect(PathLengths(generated(try .star(leaves: 2000))).pathLonger(than: 64) == nil)
    }

    @Test func nodeTTLIsWrittenOrChosenByThePaths() throws {
        var chain = generated(try .chain(nodes: 70))
        #expect(chain.nodeTTL() == (255, 69))
        chain.ttl = 64
        #expect(chain.nodeTTL() == (64, nil), "written: kept, whatever the paths")
        #expect(generated(try .chain(nodes: 10)).nodeTTL() == (nil, nil))
    }

    @Test func theTTLKeyIsReadCheckedAndWrittenBack() throws {
        let yaml = """
        name: t
        ttl: 200
        nodes: { a: {}, b: {} }
        links:
          - { endpoints: [a:eth0, b:eth0], addresses: [10.0.0.1/30, 10.0.0.2/30] }
        """
        let topology = try Topology.parse(yaml: yaml, file: "t.yaml")
        #expect(topology.ttl == 200)
        let written = YAMLWriter.yaml(of: topology)
        #expect(written.contains("ttl: 200"))
        #expect(try Topology.parse(yaml: written, file: "again.yaml").ttl == 200)
        expectOnly(yaml.replacingOccurrences(of: "ttl: 200", with: "ttl: 256"), "lab.yaml:2:6",
                   "'ttl' 256 is out of range (1 to 255)")
        expectOnly(yaml.replacingOccurrences(of: "ttl: 200", with: "ttl: 0"), "lab.yaml:2:6",
                   "'ttl' 0 is out of range (1 to 255)")
    }

    /// Random labs of routers, hosts and bridges, against the distance of every pair found by
    /// relaxing every link until nothing changes (no bounds, no breadth-first order).
    @Test func boundsAgreeWithEveryPairOnRandomLabs() throws {
        var random = SplitMix64(seed: 17)
        for round in 0..<300 {
            let count = Int.random(in: 2...40, using: &random)
            let kinds: [NodeKind] = (0..<count).map { _ in
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5: return .router
                case 5..<8: return .host
                default: return .bridge
                }
            }
            let nodes = kinds.enumerated().map { Node(name: "n\($0)", kind: $1, location: here) }
            var links: [Link] = []
            // A path through every node (so most of the lab is joined), then some chords.
            let order = (0..<count).shuffled(using: &random)
            for (a, b) in zip(order, order.dropFirst()) where Int.random(in: 0..<10, using: &random) > 0 {
                links.append(link(a, b, links.count))
            }
            for _ in 0..<Int.random(in: 0...count / 4, using: &random) {
                let a = Int.random(in: 0..<count, using: &random), b = Int.random(in: 0..<count, using: &random)
                if a != b { links.append(link(a, b, links.count)) }
            }
            let topology = Topology(name: "r", nodes: nodes, links: links, file: "r.yaml")
            let longest = Self.longestByRelaxing(topology)
            for limit in [0, 1, 2, 3, 5, 8, 13] {
                let found = PathLengths(topology).pathLonger(than: limit)
                if longest > limit {
                    #expect(found.map { $0 > limit && $0 <= longest } == true, "round \(round), limit \(limit): \(String(describing: found)), longest \(longest)")
                } else {
                    #expect(found == nil, "round \(round), limit \(limit): \(String(describing: found)), longest \(longest)")
                }
            }
        }
    }

    func link(_ a: Int, _ b: Int, _ number: Int) -> Link {
        Link(endpoints: [Endpoint(node: "n\(a)", interface: "e\(number)a", location: here),
                         Endpoint(node: "n\(b)", interface: "e\(number)b", location: here)], location: here)
    }

    /// The longest shortest path over all pairs of nodes with addresses (not bridges): a path's
    /// inner nodes must forward (routers, bridges); a link into a bridge costs 0, any other 1.
    static func longestByRelaxing(_ topology: Topology) -> Int {
        let names = topology.nodes.map(\.name)
        let kinds = Dictionary(uniqueKeysWithValues: topology.nodes.map { ($0.name, $0.kind) })
        var longest = 0
        for source in names where kinds[source] != .bridge {
            var distance: [String: Int] = [source: 0]
            var changed = true
            while changed {
                changed = false
                for link in topology.links {
                    let (a, b) = (link.endpoints[0].node, link.endpoints[1].node)
                    for (from, to) in [(a, b), (b, a)] {
                        guard let d = distance[from], from == source || kinds[from] != .host else { continue }
                        let reached = d + (kinds[to] == .bridge ? 0 : 1)
                        if distance[to].map({ reached < $0 }) ?? true { distance[to] = reached; changed = true }
                    }
                }
            }
            longest = max(longest, distance.filter { kinds[$0.key] != .bridge }.values.max() ?? 0)
        }
        return longest
    }
}
