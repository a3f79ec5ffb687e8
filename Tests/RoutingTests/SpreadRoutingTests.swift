import NetAddress
import Routing
import Testing
import Topology

/// A lab spread over hosts runs OSPF or BGP across them: each host's part configures its routers
/// exactly as the whole lab would, though it sees the routers elsewhere only through `remote:`.
@Suite struct SpreadRoutingTests {
    static func spread(_ routing: String, extra: String = "") -> String {
        """
        name: sp
        hosts: { h2: root@192.0.2.2, h3: root@192.0.2.3 }
        routing: \(routing)
        addressing: { ipv4: 10.9.0.0/16, ipv6: "fd00:9::/48" }
        nodes:
          r1: { kind: router\(extra) }
          a: {}
          r2: { kind: router, host: h2 }
          r3: { kind: router, host: h3 }
          r4: { kind: router, host: h3 }
          b: { host: h2 }
          c: { host: h3 }
        links:
          - endpoints: [a, r1]
          - endpoints: [r1, r2]
          - endpoints: [r2, r3]
          - endpoints: [r3, r1]\(routing == "ospf" ? "\n    cost: 20" : "")
          - endpoints: [r3, r4]
          - endpoints: [r2, b]
          - endpoints: [r4, c]
        """
    }

    static let underlays: [String: IPAddress] = ["": IPAddress("192.0.2.1")!, "h2": IPAddress("192.0.2.2")!, "h3": IPAddress("192.0.2.3")!]

    /// A router as FRR is configured for it, its interfaces in name order (a part lists the links
    /// to other hosts after its own).
    static func sorted(_ node: RoutedNode?) -> RoutedNode? {
        guard var node else { return nil }
        node.interfaces.sort { $0.name < $1.name }
        return node
    }

    @Test(arguments: ["ospf", "bgp"])
    func everyPartConfiguresItsRoutersAsTheWholeLabDoes(routing: String) throws {
        let whole = try Topology.parse(yaml: Self.spread(routing), file: "sp.yaml")
        let expected = RoutedLab(whole)
        for host in [nil, "h2", "h3"] as [String?] {
            // Through the part's file, as the host's nslab reads it.
            let part = try Topology.parse(yaml: YAMLWriter.yaml(of: whole.part(for: host, underlays: Self.underlays)), file: "part.yaml")
            let routed = RoutedLab(part)
            #expect(routed.nodes.map(\.name) == whole.nodes.filter { $0.host == host && $0.kind == .router }.map(\.name))
            for node in routed.nodes {
                #expect(Self.sorted(node) == Self.sorted(expected.node(node.name)), "\(node.name) on \(host ?? "this machine")")
                #expect(FRRConfig.sessions(of: node).map(\.peer).sorted() == FRRConfig.sessions(of: expected.node(node.name)!).map(\.peer).sorted())
            }
        }
        // The links between hosts are adjacencies, not passive interfaces.
        let r1 = try #require(RoutedLab(whole.part(for: nil, underlays: Self.underlays)).node("r1"))
        #expect(r1.interfaces.filter { !$0.passive }.map { $0.peers.map(\.node) }.sorted { $0[0] < $1[0] } == [["r2"], ["r3"]])
    }

    @Test func routerIDsAndAreasOfTheWholeLabAreWrittenIntoEachPart() throws {
        let whole = try Topology.parse(yaml: Self.spread("ospf", extra: ", area: 1"), file: "sp.yaml")
        let h3 = whole.part(for: "h3", underlays: Self.underlays)
        // r3's link to r1 takes r1's area, as r1 does.
        #expect(h3.links.first { $0.tunnel?.peer == "r1:eth2" }?.area == OSPFArea(1))
        #expect(h3.nodes.first { $0.name == "r3" }?.routerID == RoutedLab(whole).node("r3")?.routerID)
        // IPv6-only routers get 0.0.0.N counted over the whole lab: no two parts hand out the same.
        let v6 = try Topology.parse(yaml: Self.spread("ospf").replacingOccurrences(of: "ipv4: 10.9.0.0/16, ", with: ""), file: "sp.yaml")
        let ids = [nil, "h2", "h3"].flatMap { host in RoutedLab(v6.part(for: host, underlays: Self.underlays)).nodes.map(\.routerID) }
        #expect(ids.count == 4 && Set(ids).count == 4, "\(ids)")
    }

    @Test func bgpPeersLearnTheirNeighboursASFromRemote() throws {
        let whole = try Topology.parse(yaml: Self.spread("bgp"), file: "sp.yaml")
        let text = YAMLWriter.yaml(of: whole.part(for: "h2", underlays: Self.underlays))
        let part = try Topology.parse(yaml: text, file: "part.yaml")
        #expect(part.remoteNodes.first { $0.name == "r1" }?.asNumber == RoutedLab(whole).node("r1")?.asNumber)
        #expect(part.nodes.first { $0.name == "r2" }?.asNumber == 65002)
    }
}
