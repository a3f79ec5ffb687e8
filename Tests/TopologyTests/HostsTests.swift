import NetAddress
import Testing
@testable import Topology

@Suite("Labs spread over hosts: hosts:, host:, vxlan:, a host's part")
struct HostsTests {
    static let spread = """
        name: sp
        hosts:
          h2: root@192.0.2.2
          h3: { ssh: lab3, underlay: 192.0.2.3, nslab: /opt/nslab }
        vxlan: { vni: 500-599, port: 4790 }
        nodes:
          a: {}
          r1: { kind: router }
          r2: { kind: router, host: h2 }
          b: { host: h3 }
        links:
          - endpoints: [a, r1]
            addresses: [10.1.0.1/24, 10.1.0.2/24]
          - endpoints: [r1, r2]
            addresses: [10.2.0.1/24, 10.2.0.2/24]
          - endpoints: [r2, b]
            addresses: [10.3.0.1/24, 10.3.0.2/24]
            vni: 777
            mtu: 1400
        expect:
          - a reaches b
          - b reaches a
        """

    static let underlays: [String: IPAddress] = ["": IPAddress("192.0.2.1")!, "h2": IPAddress("192.0.2.2")!, "h3": IPAddress("192.0.2.3")!]

    @Test func hostsAndPlacementAreRead() throws {
        let topology = try Topology.parse(yaml: Self.spread, file: "sp.yaml")
        #expect(topology.isSpread)
        #expect(topology.hosts.map(\.name) == ["h2", "h3"])
        #expect(topology.hosts[1].ssh == "lab3" && topology.hosts[1].underlay == IPAddress("192.0.2.3") && topology.hosts[1].command == "/opt/nslab")
        #expect(topology.placements == [nil, "h2", "h3"])
        #expect(topology.vxlan.vnis == 500...599 && topology.vxlan.port == 4790)
        // VNIs: the next free one of the range in link order, a link's own wins.
        #expect(topology.crossHostLinks.map(\.vni) == [500, 777])
    }

    @Test func aHostsPartHasItsNodesAndTunnelEnds() throws {
        let topology = try Topology.parse(yaml: Self.spread, file: "sp.yaml")
        let h2 = topology.part(for: "h2", underlays: Self.underlays)
        #expect(!h2.isSpread && h2.placedOn == "h2")
        #expect(h2.nodes.map(\.name) == ["r2"])
        #expect(h2.links.count == 2)
        let toR1 = try #require(h2.links.first)
        #expect(toR1.endpoints.map(\.id) == ["r2:eth0"])
        #expect(toR1.tunnel == VXLANTunnel(vni: 500, local: IPAddress("192.0.2.2"), remote: IPAddress("192.0.2.1")!, port: 4790, peer: "r1:eth1"))
        // MTU lowered by the encapsulation unless declared.
        #expect(toR1.endpoints[0].mtu == 1450)
        #expect(h2.links[1].endpoints[0].mtu == 1400 && h2.links[1].tunnel?.vni == 777)
        #expect(h2.remoteNodes.map(\.name) == ["a", "r1", "b"])
        #expect(h2.remoteNodes.first { $0.name == "b" }?.interfaces.first?.addresses == [IPPrefix("10.3.0.2/24")!])
        // Expectations are checked where their node probes from.
        let local = topology.part(for: nil, underlays: Self.underlays)
        #expect(local.expectations.map(\.from) == ["a"])
        #expect(topology.part(for: "h3", underlays: Self.underlays).expectations.map(\.from) == ["b"])
    }

    @Test func aPartIsAnOrdinaryLabFileThatReadsBackTheSame() throws {
        let topology = try Topology.parse(yaml: Self.spread, file: "sp.yaml")
        let part = topology.part(for: "h2", underlays: Self.underlays)
        let text = YAMLWriter.yaml(of: part)
        let read = try Topology.parse(yaml: text, file: "part.yaml")
        #expect(read.placedOn == "h2")
        #expect(read.links.map(\.tunnel) == part.links.map(\.tunnel))
        #expect(read.links.flatMap(\.endpoints).map(\.mtu) == part.links.flatMap(\.endpoints).map(\.mtu))
        #expect(read.remoteNodes.map(\.name) == part.remoteNodes.map(\.name))
        #expect(read.remoteNodes.flatMap(\.interfaces).map(\.addresses) == part.remoteNodes.flatMap(\.interfaces).map(\.addresses))
        #expect(read.nodes.first?.routes.map(\.text) == part.nodes.first?.routes.map(\.text))
        // And the whole lab writes back as itself.
        let whole = try Topology.parse(yaml: YAMLWriter.yaml(of: topology), file: "again.yaml")
        #expect(whole.hosts == topology.hosts.map { var host = $0; host.location = whole.hosts.first { $0.name == host.name }!.location; return host })
        #expect(whole.nodes.map(\.host) == topology.nodes.map(\.host))
        #expect(whole.crossHostLinks.map(\.vni) == topology.crossHostLinks.map(\.vni))
    }

    /// A chain of 70 nodes, every other one on h2: no part has a path longer than 64 links,
    /// the whole lab has (69), so every part says the TTL its nodes send with.
    @Test func everyPartSendsWithTheWholeLabsTTL() throws {
        // Parsed, so that every link has its own location (a part finds links' VNIs by it).
        var chain = try Topology.parse(yaml: YAMLWriter.yaml(of: try GeneratedShape.chain(nodes: 70).topology(name: "long", routing: .none)),
                                       file: "long.yaml")
        chain.hosts = [LabHost(name: "h2", ssh: "root@192.0.2.2", location: chain.links[0].location)]
        for index in chain.nodes.indices where index % 2 == 1 { chain.nodes[index].host = "h2" }
        let parts = [nil, "h2"].map { chain.part(for: $0, underlays: Self.underlays) }
        #expect(parts.allSatisfy { $0.ttl == 255 }, "\(parts.map(\.ttl))")
        #expect(try Topology.parse(yaml: YAMLWriter.yaml(of: parts[1]), file: "part.yaml").ttl == 255)
        chain.ttl = 64
        #expect(chain.part(for: "h2", underlays: Self.underlays).ttl == 64)
        #expect(try HostsTests.spreadTopology().part(for: "h2", underlays: Self.underlays).ttl == nil)
    }

    static func spreadTopology() throws -> Topology { try Topology.parse(yaml: spread, file: "sp.yaml") }

    @Test func aTunnelLinkHasOneEnd() throws {
        let topology = try Topology.parse(yaml: """
            name: t
            nodes: { a: {} }
            links:
              - endpoints: [a]
                addresses: [10.9.0.1/24]
                vxlan: { vni: 42, remote: 192.0.2.9 }
            """, file: "t.yaml")
        #expect(topology.links[0].tunnel == VXLANTunnel(vni: 42, local: nil, remote: IPAddress("192.0.2.9")!))
    }

    @Test(arguments: [
        ("nodes: { a: {}, b: { host: h9 } }\nlinks: [ { endpoints: [a, b] } ]", "t.yaml:2:28: node 'b' is on unknown host 'h9'"),
        ("hosts: { h2: x }\nnodes: { a: {}, b: { host: h2 } }\nlinks: [ { endpoints: [a, b], vni: 5 }, { endpoints: [b, a], vni: 5 } ]",
         "t.yaml:4:67: VNI 5 is already used by the link at t.yaml:4:36"),
        ("nodes: { a: {}, b: {} }\nlinks: [ { endpoints: [a, b], vni: 5 } ]", "t.yaml:3:36: 'vni' is only for a link between nodes on different hosts"),
        ("nodes: { a: {}, b: {} }\nlinks: [ { endpoints: [a, b], vxlan: { vni: 1, remote: 192.0.2.1 } } ]",
         "t.yaml:3:38: a link with 'vxlan' has exactly 1 endpoint here, found 2"),
        ("nodes: { a: {} }\nlinks: [ { endpoints: [a], vxlan: { remote: 192.0.2.1 } } ]", "t.yaml:3:35: the link's 'vxlan' is missing required key 'vni'"),
        ("hosts: { h2: { underlay: 192.0.2.2 } }\nnodes: { a: {} }", "t.yaml:2:14: host 'h2' is missing required key 'ssh'"),
        ("hosts: { h2: x }\nvxlan: { vni: 7-7 }\nnodes: { a: {}, b: { host: h2 }, c: { host: h2 } }\nlinks: [ { endpoints: [a, b] }, { endpoints: [a, c] } ]",
         "t.yaml:3:8: 2 links join nodes on different hosts but 'vxlan' gives only 1 VNIs"),
        ("hosts: { h2: x }\nrouting: ospf\nnodes: { a: { kind: router }, b: { kind: bridge, host: h2 } }\nlinks: [ { endpoints: [a, b], addresses: [10.0.0.1/24, ~] } ]",
         "t.yaml:5:10: under routing: ospf, a link between hosts must join routers or hosts, not bridge 'b'"),
        ("routing: ospf\nnodes: { a: { kind: router, router-id: 10.0.0.9 }, b: { kind: router, router-id: 10.0.0.9 } }",
         "t.yaml:3:82: routers 'a' and 'b' have the same router-id 10.0.0.9"),
        ("nodes: { a: { kind: router, router-id: 1.2.3 } }", "t.yaml:2:40: 'router-id' must be four dotted numbers"),
        ("nodes: { a: { kind: router, router-id: 1.2.3.4 } }", "t.yaml:2:40: 'router-id' on node 'a' is unused"),
    ])
    func refused(_ body: String, _ expected: String) {
        do {
            _ = try Topology.parse(yaml: "name: t\n" + body, file: "t.yaml")
            Issue.record("accepted: \(body)")
        } catch {
            let text = error.diagnostics.map { "\($0.location): \($0.message)" }.joined(separator: "\n")
            #expect(text.contains(expected), "\(text)")
        }
    }
}
