import Foundation
import NetAddress
import Testing
@testable import Topology

private let labHead = """
name: lab
nodes: { ns01: {}, ns02: {}, router01: { kind: router } }
links:
  - endpoints: [ns01, router01]
  - endpoints: [router01, ns02]

"""

@Suite("Topology: expect:")
struct ExpectationTests {
    @Test func stringAndMappingForms() throws {
        let topology = try #require(decode(labHead + """
        expect:
          - ns01 reaches ns02 via router01
          - ns01 reaches 10.0.0.1
          - ns01 does not reach ns02:eth0
          - { from: ns02, to: ns01, reaches: false }
          - { from: ns02, to: ns01, via: router01 }
        """))
        let expectations = topology.expectations
        #expect(expectations.map(\.text) == [
            "ns01 reaches ns02 via router01", "ns01 reaches 10.0.0.1", "ns01 does not reach ns02:eth0",
            "ns02 does not reach ns01", "ns02 reaches ns01 via router01",
        ])
        #expect(expectations[1].target == .address(try #require(IPAddress("10.0.0.1"))))
        #expect(expectations[2].target == .interface(node: "ns02", interface: "eth0"))
        #expect(expectations[0].location.description == "lab.yaml:7:5")
    }

    @Test func unknownNodesAreNamedWithTheirColumn() {
        let yaml = labHead + "expect:\n  - ns01 reaches nso2 via routr01\n"
        expectSome(yaml, "lab.yaml:7:18", "unknown node 'nso2'", hint: "did you mean 'ns02'?")
        expectSome(yaml, "lab.yaml:7:27", "unknown node 'routr01'", hint: "did you mean 'router01'?")
        expectOnly(labHead + "expect:\n  - { from: ns1, to: ns02 }\n", "lab.yaml:7:13", "unknown node 'ns1'")
    }

    @Test func malformedExpectations() {
        expectOnly(labHead + "expect:\n  - ns01 reches ns02\n", "lab.yaml:7:10", "expected 'reaches' or 'does not reach'",
                   hint: "did you mean 'reaches'?")
        expectOnly(labHead + "expect:\n  - ns01 does not reach ns02 via router01\n", "lab.yaml:7:30", "'via' makes no sense")
        expectOnly(labHead + "expect:\n  - ns01 reaches\n", "lab.yaml:7:5", "incomplete")
        expectOnly(labHead + "expect:\n  - { from: ns01, to: ns02, reach: true }\n", "lab.yaml:7:29", "unknown key 'reach'",
                   hint: "reaches")
        expectOnly(labHead + "expect:\n  - { from: ns01, to: ns02, reaches: maybe }\n", "lab.yaml:7:38", "'reaches' must be true or false")
        expectOnly(labHead + "expect: ns01 reaches ns02\n", "lab.yaml:6:9", "'expect' must be a list")
        expectOnly(labHead + "expect:\n  - ns01 reaches ns02 and more\n", "lab.yaml:7:23", "unexpected 'and'")
    }

    @Test func schemaKnowsTheExpectationKeys() throws {
        let data = try Data(contentsOf: SchemaTests.schemaURL)
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let definitions = try #require(schema["$defs"] as? [String: Any])
        let map = try #require(definitions["expectationMap"] as? [String: Any])
        #expect(Set(try #require(map["properties"] as? [String: Any]).keys) == Set(TopologyKeys.expectation))
        #expect(map["additionalProperties"] as? Bool == false)
        let top = try #require(schema["properties"] as? [String: Any])
        #expect(top["expect"] != nil)
    }
}
