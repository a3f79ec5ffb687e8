import NetAddress
import Testing
@testable import Topology

/// `addressing:` pools and `routing: static`.
@Suite struct AddressingTests {
    static let chain = """
        name: auto
        addressing: { ipv4: 10.20.0.0/24, ipv6: "fd00:20::/48" }
        routing: static
        nodes: { h1: , r1: { kind: router }, r2: { kind: router }, h2: }
        links:
          - endpoints: [h1, r1]
          - endpoints: [r1, r2]
            addresses: [10.20.0.1/31, 10.20.0.0/31]
          - endpoints: [r2, h2]

        """

    func addresses(_ topology: Topology) -> [[String]] {
        topology.links.map { $0.endpoints.flatMap { $0.addresses.map(\.description) } }
    }

    @Test func linksWithoutAddressesGetSubnetsInFileOrderSkippingWrittenOnes() throws {
        let lab = try #require(decode(Self.chain))
        #expect(addresses(lab) == [
            ["10.20.0.2/31", "fd00:20::/127", "10.20.0.3/31", "fd00:20::1/127"],
            ["10.20.0.1/31", "fd00:20::2/127", "10.20.0.0/31", "fd00:20::3/127"],
            ["10.20.0.4/31", "fd00:20::4/127", "10.20.0.5/31", "fd00:20::5/127"],
        ])
        // The same file, the same addresses.
        #expect(addresses(try #require(decode(Self.chain))) == addresses(lab))
    }

    @Test func staticRoutingFillsEveryNodeAndHandWrittenRoutesWin() throws {
        let lab = try #require(decode(Self.chain))
        #expect(lab.node(named: "h1")?.routes.map(\.text) == ["default via 10.20.0.3", "default via fd00:20::1"])
        #expect(lab.node(named: "r1")?.routes.map(\.text) == ["10.20.0.4/31 via 10.20.0.0", "fd00:20::4/127 via fd00:20::3"])
        let own = try #require(decode(Self.chain.replacingOccurrences(of: "h1: ,", with: "h1: { routes: [default via 10.20.0.3] },")))
        #expect(own.node(named: "h1")?.routes.map(\.text) == ["default via 10.20.0.3", "default via fd00:20::1"])
        let none = try #require(decode(Self.chain.replacingOccurrences(of: "routing: static\n", with: "")))
        #expect(none.nodes.allSatisfy { $0.routes.isEmpty })
    }

    /// What explain prints beside a computed route: why it was chosen. Written routes have none.
    @Test func computedRoutesSayWhyTheyWereChosen() throws {
        let lab = try #require(decode(Self.chain.replacingOccurrences(of: "h1: ,", with: "h1: { routes: [\"fd00:99::/64 via fd00:20::1\"] },")))
        #expect(lab.node(named: "h1")?.routes.map(\.reason) == [nil, "routing: static: r1, the only neighbour, forwards",
                                                                "routing: static: r1, the only neighbour, forwards"])
        #expect(lab.node(named: "r1")?.routes.first?.reason
                == "routing: static: r2, on that subnet, is 1 hop away, first through r2; of equal paths, the first in file order")
    }

    @Test func classicLinkSubnetsOnRequest() throws {
        let lab = try #require(decode("""
            name: classic
            addressing: { ipv4: 192.168.0.0/16, ipv6: "fd00::/48", ipv4-link: 30, ipv6-link: 64 }
            nodes: { a: , b: }
            links:
              - endpoints: [a, b]
            """))
        #expect(addresses(lab) == [["192.168.0.1/30", "fd00::1/64", "192.168.0.2/30", "fd00::2/64"]])
    }

    @Test func aPoolTooSmallOrMalformedIsReportedWhereItIsWritten() {
        let links = (0..<3).map { _ in "  - endpoints: [a, b]\n" }.joined()
        expectSome("name: x\naddressing: { ipv4: 10.0.0.0/31 }\nnodes: { a: , b: }\nlinks:\n" + links,
                   "lab.yaml:2:13", "the IPv4 pool 10.0.0.0/31 has no room left")
        expectOnly("name: x\naddressing: { ipv4: \"fd00::/48\" }\nnodes: { a: }\n", "lab.yaml:2:21",
                   "'ipv4' must be an IPv4 prefix such as 10.0.0.0/16")
        expectOnly("name: x\naddressing: { ipv4: 10.0.0.0/8, ipv4-link: 29 }\nnodes: { a: }\n", "lab.yaml:2:44",
                   "'ipv4-link' must be 30 or 31")
        expectOnly("name: x\naddressing: { ipv44: 10.0.0.0/8 }\nnodes: { a: }\n", "lab.yaml:2:15",
                   "unknown key 'ipv44' in 'addressing'", hint: "did you mean 'ipv4'?")
        expectOnly("name: x\nrouting: statik\nnodes: { a: }\n", "lab.yaml:2:10",
                   "'routing' must be 'none', 'static', 'ospf' or 'bgp'", hint: "did you mean 'static'?")
    }
}
