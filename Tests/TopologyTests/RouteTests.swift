import NetAddress
import Testing
@testable import Topology

/// Route syntax (both forms) and the checks against the node's interfaces and addresses.
@Suite struct RouteTests {
    /// ns01 with `routes` from line 5, column 9, one per line; ns01 has e0 192.168.0.1/24 and
    /// e1 10.1.0.1/24 + fd00::1/64, facing r1's .254 / fd00::fe.
    static func lab(_ routes: String...) -> String { make(routes) }

    static func make(_ routes: [String]) -> String {
        """
        name: x
        nodes:
          ns01:
            routes:
        \(routes.map { "      - " + $0 }.joined(separator: "\n"))
          r1: { kind: router }
        links:
          - endpoints: [ns01:e0, r1:e0]
            addresses: [192.168.0.1/24, 192.168.0.254/24]
          - endpoints: [ns01:e1, r1:e1]
            addresses: [[10.1.0.1/24, "fd00::1/64"], [10.1.0.254/24, "fd00::fe/64"]]

        """
    }

    static func routes(_ routes: String...) throws -> [Route] {
        let lab = try #require(decode(make(routes)))
        return try #require(lab.node(named: "ns01")?.routes)
    }

    // MARK: accepted forms

    @Test func stringForm() throws {
        let parsed = try Self.routes("10.0.0.0/24 metric 10 dev e1 via 10.1.0.254", "default via fd00::fe")
        #expect(parsed.map(\.text) == ["10.0.0.0/24 via 10.1.0.254 dev e1 metric 10", "default via fd00::fe"])
        #expect(parsed[1].destination == IPPrefix("::/0"))
        #expect(parsed.map(\.location.description) == ["lab.yaml:5:9", "lab.yaml:6:9"])
    }

    @Test func mapForm() throws {
        let parsed = try Self.routes("{ to: 10.0.0.0/24, via: 10.1.0.254, dev: e1, metric: 10 }", "{ to: default, dev: e0 }")
        #expect(parsed.map(\.text) == ["10.0.0.0/24 via 10.1.0.254 dev e1 metric 10", "default dev e0"])
        #expect(parsed[1].destination == IPPrefix("0.0.0.0/0"))
    }

    @Test func bareAddressIsAHostRoute() throws {
        let parsed = try Self.routes("10.9.9.9 via 192.168.0.254", "fd00:9::9 via fd00::fe")
        #expect(parsed.map(\.destination.description) == ["10.9.9.9/32", "fd00:9::9/128"])
    }

    // MARK: syntax

    @Test func unknownWord() {
        expectOnly(Self.lab("10.0.0.0/24 gw 192.168.0.254"), "lab.yaml:5:21", "unknown word 'gw' in the route",
                   hint: "only 'via', 'dev' and 'metric'")
        expectOnly(Self.lab("10.0.0.0/24 vai 192.168.0.254"), "lab.yaml:5:21", "unknown word 'vai' in the route",
                   hint: "did you mean 'via'?")
    }

    @Test func missingValue() {
        expectOnly(Self.lab("default via"), "lab.yaml:5:17", "'via' needs a gateway address after it")
        expectOnly(Self.lab("default via dev e0"), "lab.yaml:5:17", "'via' needs a gateway address after it")
        expectOnly(Self.lab("default via 192.168.0.254 metric"), "lab.yaml:5:35", "'metric' needs a number after it")
    }

    @Test func duplicateWord() {
        expectOnly(Self.lab("default via 192.168.0.254 via 192.168.0.253"), "lab.yaml:5:35", "'via' appears twice in the route")
    }

    @Test func noDestination() {
        expectOnly(Self.lab("via 192.168.0.254"), "lab.yaml:5:9", "the route has no destination before 'via'")
    }

    @Test func emptyRoute() {
        expectOnly(Self.lab("\"\""), "lab.yaml:5:9", "the route is empty")
    }

    @Test func destinationWithHostBits() {
        expectOnly(Self.lab("10.0.0.1/24 via 192.168.0.254"), "lab.yaml:5:9", "destination 10.0.0.1/24 has host bits set",
                   hint: "did you mean 10.0.0.0/24?")
        expectOnly(Self.lab("{ to: 10.0.0.1/24, via: 192.168.0.254 }"), "lab.yaml:5:15", "destination 10.0.0.1/24 has host bits set")
    }

    @Test func malformedDestinationAndGateway() {
        expectOnly(Self.lab("10.0.0.0/33 via 192.168.0.254"), "lab.yaml:5:9",
                   "invalid destination: prefix length 33 is out of range for IPv4")
        expectOnly(Self.lab("default via 192.168.0.256"), "lab.yaml:5:21",
                   "invalid gateway: '192.168.0.256' is not a valid IPv4 address: 256 is greater than 255")
        expectOnly(Self.lab("default via 192.168.0.254/24"), "lab.yaml:5:21",
                   "gateway '192.168.0.254/24' must be an address without a prefix length", hint: "write via 192.168.0.254")
    }

    @Test func gatewayFamilyDiffersFromDestination() {
        expectOnly(Self.lab("10.0.0.0/24 via fd00::fe"), "lab.yaml:5:25",
                   "gateway fd00::fe is IPv6 but destination 10.0.0.0/24 is IPv4")
    }

    @Test func metricOutOfRange() {
        expectOnly(Self.lab("default via 192.168.0.254 metric 4294967296"), "lab.yaml:5:42",
                   "metric 4294967296 is out of range (0 to 4294967295)")
        expectOnly(Self.lab("{ to: default, via: 192.168.0.254, metric: ten }"), "lab.yaml:5:52",
                   "metric must be a whole number from 0 to 4294967295, found 'ten'")
    }

    @Test func neitherViaNorDev() {
        expectOnly(Self.lab("10.0.0.0/24"), "lab.yaml:5:9",
                   "the route to 10.0.0.0/24 has neither 'via GATEWAY' nor 'dev INTERFACE'")
        expectOnly(Self.lab("{ to: default, metric: 5 }"), "lab.yaml:5:9", "the route to default has neither")
    }

    @Test func mapFormNeedsTo() {
        expectOnly(Self.lab("{ via: 192.168.0.254 }"), "lab.yaml:5:9", "the route is missing required key 'to'")
    }

    @Test func routeOfWrongType() {
        expectOnly(Self.lab("[default, via, 192.168.0.254]"), "lab.yaml:5:9", "a route must be a string or a mapping, found a list")
    }

    // MARK: against the node

    @Test func devIsNotAnInterfaceOfTheNode() {
        expectOnly(Self.lab("default via 192.168.0.254 dev eth0"), "lab.yaml:5:39", "node 'ns01' has no interface 'eth0'",
                   hint: "its interfaces are e0, e1")
        expectOnly(Self.lab("default via 192.168.0.254 dev e2"), "lab.yaml:5:39", "node 'ns01' has no interface 'e2'",
                   hint: "did you mean 'e0'?")
    }

    @Test func gatewayNotOnAConnectedSubnet() {
        expectOnly("""
            name: x
            nodes:
              ns01: { routes: [default via 10.9.9.9] }
              r1:
            links:
              - endpoints: [ns01:ns01-veth0, r1:gw01-veth0]
                addresses: [192.168.0.1/24, 192.168.0.254/24]
            """, "lab.yaml:3:32", "gateway 10.9.9.9 is not on any subnet connected to ns01 (its subnets: 192.168.0.0/24)")
        expectOnly(Self.lab("default via 10.1.0.254 dev e0"), "lab.yaml:5:21",
                   "gateway 10.1.0.254 is not on any subnet connected to ns01:e0 (its subnets: 192.168.0.0/24)")
        expectOnly("name: x\nnodes:\n  a: { routes: [default via 10.0.0.1] }\n", "lab.yaml:3:29",
                   "gateway 10.0.0.1 is not on any subnet connected to a (it has no addresses)")
    }

    @Test func gatewayIsTheNodesOwnAddress() {
        expectOnly(Self.lab("default via 192.168.0.1"), "lab.yaml:5:21", "gateway 192.168.0.1 is an address of ns01 itself (on e0)")
    }

    @Test func linkLocalGatewayNeedsDev() {
        expectOnly(Self.lab("default via fe80::1"), "lab.yaml:5:21", "link-local gateway fe80::1 needs 'dev INTERFACE'")
        #expect(diagnostics(Self.lab("default via fe80::1 dev e1")).isEmpty)
    }

    @Test func duplicateRoute() {
        expectOnly(Self.lab("10.0.0.0/24 via 192.168.0.254", "10.0.0.0/24 via 10.1.0.254"), "lab.yaml:6:9",
                   "duplicate route to 10.0.0.0/24 with metric 0 on node 'ns01'; the first is at lab.yaml:5:9")
        expectOnly(Self.lab("default via fd00::fe", "{ to: \"::/0\", via: \"fd00::fe\", metric: 1024 }"), "lab.yaml:6:9",
                   "duplicate route to default (::/0) with metric 1024")
        // Different metrics, or the two families' defaults, are different routes.
        #expect(diagnostics(Self.lab("10.0.0.0/24 via 192.168.0.254", "10.0.0.0/24 via 10.1.0.254 metric 5")).isEmpty)
        #expect(diagnostics(Self.lab("default via 192.168.0.254", "default via fd00::fe")).isEmpty)
    }
}
