import NetAddress
import Testing
@testable import Topology

/// `problemsInMemory` (what generate checks instead of parsing its own output) finds what
/// reading the written file finds: nothing for the generated shapes, the same complaints for a
/// generated lab broken on purpose.
@Suite struct InMemoryCheckTests {
    static func parseProblems(_ topology: Topology) -> [String] {
        do {
            _ = try Topology.parse(yaml: YAMLWriter.yaml(of: topology), file: "generated")
            return []
        } catch {
            return error.diagnostics.map(\.message)
        }
    }

    static func unlocated(_ message: String) -> String {
        message.replacing(/generated:[0-9]+:[0-9]+/, with: "generated")
    }

    @Test func generatedShapesHaveNoProblems() throws {
        for (name, shape) in try GenerateTests.shapes() {
            for dualStack in [false, true] {
                let topology = shape.topology(name: name, prefix: "g-", dualStack: dualStack)
                #expect(topology.problemsInMemory() == [], "\(name)")
            }
        }
    }

    @Test func aBrokenGeneratedLabIsCaughtAsReadingItsFileWould() throws {
        let good = try GeneratedShape.grid(rows: 3, columns: 3, torus: false).topology(name: "g")
        var breakages: [(String, (inout Topology) -> Void)] = []
        breakages.append(("an address twice", { $0.links[1].endpoints[0].addresses = $0.links[0].endpoints[0].addresses }))
        breakages.append(("a gateway on no subnet of the node", {
            $0.nodes[0].routes[0].gateway = IPAddress("10.200.0.1")
        }))
        breakages.append(("a bad node name", { topology in
            topology.nodes[4].name = "r 2"
            for link in topology.links.indices {
                for end in topology.links[link].endpoints.indices where topology.links[link].endpoints[end].node == "r2-2" {
                    topology.links[link].endpoints[end].node = "r 2"
                }
            }
        }))
        breakages.append(("an interface twice on a node", { $0.links[1].endpoints[0].interface = $0.links[0].endpoints[0].interface }))
        breakages.append(("a link to a node that is not there", { $0.links[2].endpoints[1].node = "nowhere" }))
        for (what, breakage) in breakages {
            var broken = good
            breakage(&broken)
            let inMemory = try #require(broken.problemsInMemory(), "\(what)")
            #expect(!inMemory.isEmpty, "\(what) is caught")
            // The same messages; where they point differs (the file's lines, or "generated:1:1").
            #expect(Set(inMemory.map(\.message).map(Self.unlocated)) == Set(Self.parseProblems(broken).map(Self.unlocated)), "\(what)")
        }
    }

    @Test func aLabWithMoreThanGenerateMakesIsLeftToTheParser() throws {
        var topology = try GeneratedShape.chain(nodes: 3).topology(name: "c")
        topology.links[0].endpoints[0].mtu = 1400
        #expect(topology.problemsInMemory() == nil)
    }
}
