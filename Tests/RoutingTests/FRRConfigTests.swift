import NetAddress
import Routing
import Testing
import Topology

private func lab(_ yaml: String) throws(TopologyError) -> Topology { try Topology.parse(yaml: yaml, file: "t.yaml") }

@Suite struct FRRConfigTests {
    let chain = """
        name: chain
        addressing: { ipv4: 10.0.0.0/24, ipv6: "fd00::/48" }
        routing: ospf
        nodes: { r1: { kind: router }, r2: { kind: router, area: 0 }, r3: { kind: router }, h1: {}, sw: { kind: bridge } }
        links:
          - endpoints: [r1, r2]
            cost: 7
          - endpoints: [r2, r3]
          - endpoints: [h1, r1]
          - endpoints: [r2, sw]
          - endpoints: [r3, sw]
        """

    @Test func ospfSpeaksOnLinksBetweenRoutersAndAnnouncesTheRest() throws {
        let topology = try lab(chain)
        let routed = RoutedLab(topology)
        #expect(routed.nodes.map(\.name) == ["r1", "r2", "r3"])  // hosts and switches run no FRR
        let r1 = try #require(routed.node("r1"))
        #expect(r1.protocols == [.ospf, .ospf6])
        #expect(r1.interfaces.map(\.name) == ["eth0", "eth1"])
        #expect(r1.interfaces[0].peers.map(\.node) == ["r2"] && r1.interfaces[0].pointToPoint && r1.interfaces[0].cost == 7)
        #expect(r1.interfaces[1].passive)  // the host's link
        // r2 and r3 on one switch: a segment of two routers, point-to-point though bridged.
        let r2 = try #require(routed.node("r2"))
        #expect(r2.interfaces.first { $0.name == "eth2" }?.peers.map(\.node) == ["r3"])
        // The lowest IPv4 address is the router ID.
        #expect(r1.routerID == IPAddress("10.0.0.0"))

        let config = FRRConfig.make(r1)
        #expect(config.daemons == ["zebra", "staticd", "ospfd", "ospf6d"])
        #expect(config.frrConf.contains("interface eth0\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 3\n ip ospf cost 7\n ip ospf area 0.0.0.0\n"))
        #expect(config.frrConf.contains("interface eth1\n ip ospf passive\n ip ospf area 0.0.0.0\n ipv6 ospf6 passive\n ipv6 ospf6 area 0.0.0.0\n"))
        // The router block first: its ID before any interface speaks.
        let router = try #require(config.frrConf.range(of: "router ospf\n ospf router-id 10.0.0.0\n"))
        let interface = try #require(config.frrConf.range(of: "interface eth0"))
        #expect(router.lowerBound < interface.lowerBound)
        #expect(config.frrConf.contains(" timers throttle lsa all 0\n"))
        #expect(config.daemonsFile.contains("ospfd=yes\n") && config.daemonsFile.contains("bgpd=no\n"))
    }

    @Test func hostsGetDefaultRoutesAndRoutersNone() throws {
        let topology = try lab(chain)
        #expect(topology.node(named: "h1")?.routes.map(\.text) == ["default via 10.0.0.5", "default via fd00::5"])
        #expect(topology.nodes.filter { $0.kind == .router }.allSatisfy { $0.routes.isEmpty })
    }

    @Test func bgpGivesEachRouterAnASAndASessionPerFamilyAndLink() throws {
        let topology = try lab("""
            name: b
            addressing: { ipv4: 10.1.0.0/24, ipv6: "fd00:1::/48" }
            routing: bgp
            nodes: { a: { kind: router }, b: { kind: router, as: 64999 }, c: { kind: router }, h: {} }
            links: [{ endpoints: [a, b] }, { endpoints: [b, c] }, { endpoints: [h, c] }]
            """)
        let routed = RoutedLab(topology)
        #expect(routed.nodes.map { $0.asNumber } == [65001, 64999, 65003])
        let b = FRRConfig.make(try #require(routed.node("b")))
        #expect(b.daemons == ["zebra", "staticd", "bgpd"])
        #expect(b.frrConf.contains("router bgp 64999\n"))
        #expect(b.frrConf.contains(" neighbor 10.1.0.0 remote-as 65001\n"))
        #expect(b.frrConf.contains(" neighbor 10.1.0.3 remote-as 65003\n"))
        #expect(b.frrConf.contains(" neighbor fd00:1:: remote-as 65001\n"))
        #expect(b.frrConf.contains(" neighbor 10.1.0.3 timers connect 1\n"))
        // IPv4 sessions carry IPv4, IPv6 sessions IPv6; every subnet announced once.
        #expect(b.frrConf.contains(" address-family ipv4 unicast\n  network 10.1.0.0/31\n  network 10.1.0.2/31\n  neighbor 10.1.0.0 activate\n  neighbor 10.1.0.3 activate\n exit-address-family\n"))
        let c = FRRConfig.make(try #require(routed.node("c")))
        #expect(c.frrConf.contains("  network 10.1.0.4/31\n"))  // the host's subnet
    }

    @Test func ownConfigurationIsAppendedOrReplacesAndStartsItsDaemons() throws {
        let topology = try lab("""
            name: o
            routing: static
            nodes:
              r: { kind: router, frr: "bfd\\n peer 10.9.0.2\\n" }
              s: { kind: router, frr: { config: "router rip\\n network eth0\\n", replace: true, daemons: [pbrd] } }
            links: [{ endpoints: [r, s], addresses: [10.9.0.1/30, 10.9.0.2/30] }]
            """)
        let routed = RoutedLab(topology)
        let r = FRRConfig.make(try #require(routed.node("r")))
        #expect(r.daemons == ["zebra", "staticd", "bfdd"])
        #expect(r.frrConf.hasPrefix("! Written by nslab") && r.frrConf.hasSuffix("bfd\n peer 10.9.0.2\n"))
        let s = FRRConfig.make(try #require(routed.node("s")))
        #expect(s.frrConf == "router rip\n network eth0\n")
        #expect(s.daemons == ["zebra", "staticd", "ripd", "pbrd"])
    }

    @Test func routingSettingsAreCheckedWithTheirPlace() throws {
        func problems(_ yaml: String) -> [String] {
            do { _ = try lab(yaml); return [] } catch { return error.diagnostics.map { (d: Diagnostic) in d.description } }
        }
        let unaddressed = problems("""
            name: x
            routing: ospf
            nodes: { a: { kind: router }, b: { kind: router } }
            links: [{ endpoints: [a, b] }]
            """)
        #expect(unaddressed.count == 1 && unaddressed[0].hasPrefix("t.yaml:4:9: error: the link between routers 'a' and 'b' has no addresses"))
        let unused = problems("""
            name: x
            routing: static
            nodes: { a: { kind: router, as: 65000 }, b: { kind: router, area: 1 } }
            links: [{ endpoints: [a, b], cost: 3, addresses: [10.0.0.1/30, 10.0.0.2/30] }]
            """)
        #expect(unused.count == 3)
        #expect(unused[0].contains("'as' on node 'a' is unused: it is used by routing: bgp"))
        #expect(unused[2].contains("OSPF settings on a link are unused"))
        let areas = problems("""
            name: x
            routing: ospf
            nodes: { a: { kind: router, area: 1 }, b: { kind: router, area: 2 } }
            links: [{ endpoints: [a, b], addresses: [10.0.0.1/30, 10.0.0.2/30] }]
            """)
        #expect(areas.count == 1 && areas[0].contains("disagree on this link's OSPF area"))
        let sameAS = problems("""
            name: x
            routing: bgp
            nodes: { a: { kind: router, as: 65000 }, b: { kind: router, as: 65000 } }
            links: [{ endpoints: [a, b], addresses: [10.0.0.1/30, 10.0.0.2/30] }]
            """)
        #expect(sameAS.count == 1 && sameAS[0].contains("neighbours in the same AS 65000"))
        let daemon = problems("""
            name: x
            nodes: { a: { kind: router, frr: { daemons: [ospfdd] } } }
            """)
        #expect(daemon.count == 1 && daemon[0].contains("unknown FRR daemon 'ospfdd'") && daemon[0].contains("did you mean 'ospfd'"))
    }

    @Test func daemonsAreFoundFromTheStatementsThatNeedThem() {
        #expect(FRRConfig.daemonsNamed(in: "router ospf6\n ospf6 router-id 1.1.1.1\nrouter bgp 1\ninterface e\n ip ospf area 0\n")
                == ["ospf6d", "bgpd", "ospfd"])
        #expect(FRRConfig.daemonsNamed(in: "! router bgp 1\nhostname x\n").isEmpty)
    }
}
