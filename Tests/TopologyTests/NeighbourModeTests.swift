import Testing
@testable import Topology

@Suite("Topology: `neighbours:` written, or left to deploy")
struct NeighbourModeTests {
    func parse(_ extra: String) throws -> Topology {
        try Topology.parse(yaml: """
        name: n
        \(extra)
        nodes:
          a: {}
          b: {}
        links:
          - { endpoints: [a:eth0, b:eth0], addresses: [10.0.0.1/30, 10.0.0.2/30] }
        """, file: "n.yaml")
    }

    @Test func notWrittenIsNotDynamic() throws {
        #expect(try parse("").neighbours == nil)
        #expect(try parse("neighbours: dynamic").neighbours == .dynamic)
        #expect(try parse("neighbours: static").neighbours == .permanent)
    }

    @Test func writtenBackOnlyWhenTheFileSaidIt() throws {
        #expect(!YAMLWriter.yaml(of: try parse(""), header: []).contains("neighbours"))
        let dynamic = YAMLWriter.yaml(of: try parse("neighbours: dynamic"), header: [])
        #expect(dynamic.contains("neighbours: dynamic"))
        #expect(try Topology.parse(yaml: dynamic, file: "again.yaml").neighbours == .dynamic)
    }

    @Test func aWrongValueSaysWhatLeavingItOutDoes() throws {
        #expect {
            _ = try parse("neighbours: auto")
        } throws: { error in
            "\(error)".contains("without the key") && "\(error)".contains("n.yaml:2:")
        }
    }
}
