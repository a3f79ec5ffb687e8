import NetAddress
import Testing
@testable import Topology

/// The seed tutorials, written as topology files, decode into exactly the model they describe.
@Suite struct GoldenTests {
    /// Seed 000: two namespaces joined by one veth pair.
    static let seed000 = """
        name: two-namespaces
        nodes:
          ns1:
          ns2: {}
        links:
          - endpoints: [ns1:veth1, ns2:veth2]
            addresses: [192.0.1.1/24, 192.0.1.2/24]
        """

    /// Seed 001: two hosts behind two routers, as in docs/topology.md.
    static let seed001 = """
        name: routers
        nodes:
          ns01: { routes: [default via 192.168.0.254] }
          ns02: { routes: [default via 10.0.0.254] }
          router01: { kind: router, routes: [10.0.0.0/24 via 172.16.0.2] }
          router02: { kind: router, routes: [192.168.0.0/24 via 172.16.0.1] }
        links:
          - endpoints: [ns01:ns01-veth0, router01:gw01-veth0]
            addresses: [192.168.0.1/24, 192.168.0.254/24]
          - endpoints: [router01:gw01-veth1, router02:gw02-veth0]
            addresses: [172.16.0.1/24, 172.16.0.2/24]
          - endpoints: [router02:gw02-veth1, ns02:ns02-veth0]
            addresses: [10.0.0.254/24, 10.0.0.1/24]
        """

    @Test func seed000() throws {
        let lab = try #require(decode(Self.seed000, file: "000.yaml"))
        #expect(lab.name == "two-namespaces")
        #expect(lab.prefix == "")
        #expect(lab.file == "000.yaml")
        #expect(lab.nodes.map(\.name) == ["ns1", "ns2"])
        #expect(lab.nodes.allSatisfy { $0.kind == .host && $0.routes.isEmpty })
        #expect(lab.nodes.map(\.location.description) == ["000.yaml:3:3", "000.yaml:4:3"])
        #expect(lab.links.count == 1)
        let ends = lab.links[0].endpoints
        #expect(ends.map(\.id) == ["ns1:veth1", "ns2:veth2"])
        #expect(ends.map { $0.addresses.map(\.description) } == [["192.0.1.1/24"], ["192.0.1.2/24"]])
        #expect(ends.allSatisfy { $0.mtu == nil && $0.mac == nil })
        #expect(lab.links[0].location.description == "000.yaml:6:5")
        #expect(ends.map(\.location.description) == ["000.yaml:6:17", "000.yaml:6:28"])
        #expect(lab.namespaceName(of: "ns1") == "ns1")
    }

    @Test func seed001() throws {
        let lab = try #require(decode(Self.seed001))
        #expect(lab.name == "routers")
        #expect(lab.nodes.map(\.name) == ["ns01", "ns02", "router01", "router02"])
        #expect(lab.nodes.map(\.kind) == [.host, .host, .router, .router])

        let routes = Dictionary(uniqueKeysWithValues: lab.nodes.map { ($0.name, $0.routes.map(\.text)) })
        #expect(routes == [
            "ns01": ["default via 192.168.0.254"],
            "ns02": ["default via 10.0.0.254"],
            "router01": ["10.0.0.0/24 via 172.16.0.2"],
            "router02": ["192.168.0.0/24 via 172.16.0.1"],
        ])
        let defaultRoute = try #require(lab.node(named: "ns01")?.routes.first)
        #expect(defaultRoute.destination == IPPrefix("0.0.0.0/0"))
        #expect(defaultRoute.gateway == IPAddress("192.168.0.254"))
        #expect(defaultRoute.device == nil && defaultRoute.metric == nil)
        #expect(defaultRoute.location.description == "lab.yaml:3:20")

        let ends = lab.links.map { $0.endpoints.map { "\($0.id) \($0.addresses.map(\.description).joined(separator: ","))" } }
        #expect(ends == [
            ["ns01:ns01-veth0 192.168.0.1/24", "router01:gw01-veth0 192.168.0.254/24"],
            ["router01:gw01-veth1 172.16.0.1/24", "router02:gw02-veth0 172.16.0.2/24"],
            ["router02:gw02-veth1 10.0.0.254/24", "ns02:ns02-veth0 10.0.0.1/24"],
        ])
        #expect(lab.endpoints(of: "router01").map(\.interface) == ["gw01-veth0", "gw01-veth1"])
    }

    /// The grammar example of docs/topology.md: every form at once.
    @Test func everyForm() throws {
        let lab = try #require(decode("""
            name: forms
            prefix: lab1-
            nodes:
              ns01: { routes: [default via 192.168.0.254] }
              router01: { kind: router, routes: [10.0.0.0/24 via 172.16.0.2] }
              r2:
                kind: router
                routes:
                  - 192.168.0.0/24 via 172.16.0.1 dev eth0 metric 10
                  - { to: default, via: "fd00::1" }
                  - 10.9.9.9 dev gw02-veth1
              ns02:
            links:
              - endpoints: [ns01:ns01-veth0, router01:gw01-veth0]
                addresses: [192.168.0.1/24, 192.168.0.254/24]
              - endpoints: [router01, r2]
                addresses: [[172.16.0.1/24, "fd00::1/64"], [172.16.0.2/24, "fd00::2/64"]]
              - endpoints:
                  - { node: ns02, interface: veth0, addresses: [10.0.0.1/24, "fd01::1/64"], mtu: 9000, mac: "02:00:00:00:00:01" }
                  - r2:gw02-veth1
                mtu: 1400
            """))
        #expect(lab.prefix == "lab1-")
        #expect(lab.namespaceName(of: "r2") == "lab1-r2")
        #expect(lab.nodes.map(\.name) == ["ns01", "router01", "r2", "ns02"])
        let r2 = try #require(lab.node(named: "r2"))
        #expect(r2.routes.map(\.text) == ["192.168.0.0/24 via 172.16.0.1 dev eth0 metric 10", "default via fd00::1",
                                          "10.9.9.9/32 dev gw02-veth1"])
        #expect(r2.routes[1].destination == IPPrefix("::/0"))
        #expect(r2.routes[1].location.description == "lab.yaml:10:9")

        // A bare node name is that node's first unnamed interface, eth0, which routes may use.
        #expect(lab.links[1].endpoints.map(\.id) == ["router01:eth0", "r2:eth0"])
        #expect(lab.links[1].endpoints[1].addresses.map(\.description) == ["172.16.0.2/24", "fd00::2/64"])
        let ns02 = lab.links[2].endpoints[0]
        #expect(ns02.id == "ns02:veth0")
        #expect(ns02.addresses.map(\.description) == ["10.0.0.1/24", "fd01::1/64"])
        #expect(ns02.mtu == 9000)
        #expect(ns02.mac == [2, 0, 0, 0, 0, 1])
        #expect(lab.links[2].endpoints[1].mtu == 1400)
        #expect(lab.links[2].endpoints[1].id == "r2:gw02-veth1")
    }
}
