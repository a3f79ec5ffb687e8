import Foundation
import NetAddress
import Testing
@testable import Topology

/// VLANs: access and trunk ports on bridges, 802.1Q sub-interfaces on hosts and routers, STP;
/// what they make of the segments that addressing and static routing work from.
@Suite struct VLANTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples")

    static func example(_ name: String) throws -> Topology {
        try Topology.load(path: examples.appendingPathComponent(name).path)
    }

    func end(_ topology: Topology, _ id: String) -> Endpoint? {
        topology.links.flatMap(\.endpoints).first { $0.id == id }
    }

    func addresses(_ topology: Topology, _ node: String, _ interface: String) -> [String] {
        topology.declaredInterfaces.first { $0.node == node && $0.interface == interface }?.addresses.map(\.description) ?? []
    }

    @Test func theTrunkExampleMakesPortsSubinterfacesAndFilteringBridges() throws {
        let lab = try Self.example("vlan-trunk.yaml")
        #expect(lab.node(named: "sw1")?.vlanFiltering == true && lab.node(named: "sw2")?.vlanFiltering == true)
        #expect(lab.node(named: "sw1")?.stp == false)
        #expect(end(lab, "sw1:eth0")?.portVLANs == PortVLANs(untagged: nil, tagged: [10, 20, 30, 40]))
        #expect(end(lab, "sw1:eth1")?.portVLANs == PortVLANs(untagged: nil, tagged: [10, 20]))
        #expect(end(lab, "sw1:eth2")?.portVLANs == PortVLANs(untagged: 10))
        #expect(end(lab, "sw1:eth2")?.portVLANs?.text == "access 10")
        #expect(end(lab, "sw1:eth0")?.portVLANs?.text == "trunk 10,20,30,40")
        // The host end of an access port has nothing to do with VLANs; gw's end has sub-interfaces.
        #expect(end(lab, "a10:eth0")?.portVLANs == nil && end(lab, "a10:eth0")?.subinterfaces.isEmpty == true)
        #expect(end(lab, "gw:eth0")?.subinterfaces.map(\.name) == ["eth0.10", "eth0.20"])
        #expect(end(lab, "gw:eth0")?.subinterfaces.map(\.vlan) == [10, 20])
    }

    @Test func eachVLANIsASegmentWithASubnetSizedToIt() throws {
        let lab = try Self.example("vlan-trunk.yaml")
        // VLAN 10: gw's sub-interface, a10, b10: three interfaces need five addresses, a /29.
        #expect(addresses(lab, "gw", "eth0.10") == ["10.0.0.1/29", "fd00:30::1/64"])
        #expect(addresses(lab, "a10", "eth0") == ["10.0.0.2/29", "fd00:30::2/64"])
        #expect(addresses(lab, "b10", "eth0") == ["10.0.0.3/29", "fd00:30::3/64"])
        #expect(addresses(lab, "gw", "eth0.20") == ["10.0.0.9/29", "fd00:30:0:1::1/64"])
        #expect(addresses(lab, "b20", "eth0") == ["10.0.0.11/29", "fd00:30:0:1::3/64"])
        // Written IPv4 stays; VLAN 30 (c1, c2) gets only IPv6, a pair's /127.
        #expect(addresses(lab, "c1", "eth0") == ["10.99.0.1/24", "fd00:30:0:2::/127"])
        #expect(addresses(lab, "c2", "eth0") == ["10.99.0.2/24", "fd00:30:0:2::1/127"])
        // Alone in its VLAN, d2 gets nothing; nor does gw's trunk end, whose untagged frames the port drops.
        #expect(addresses(lab, "d2", "eth0") == ["10.99.0.3/24"])
        #expect(addresses(lab, "gw", "eth0").isEmpty)
        // The same file, the same addresses.
        let again = try Self.example("vlan-trunk.yaml")
        #expect(again.declaredInterfaces.map(\.addresses) == lab.declaredInterfaces.map(\.addresses))
    }

    @Test func routesCrossVLANsOnlyThroughTheRouterOnAStick() throws {
        let lab = try Self.example("vlan-trunk.yaml")
        #expect(lab.node(named: "a10")?.routes.map(\.text) == ["10.0.0.8/29 via 10.0.0.1", "fd00:30:0:1::/64 via fd00:30::1"])
        #expect(lab.node(named: "b20")?.routes.map(\.text) == ["10.0.0.0/29 via 10.0.0.9", "fd00:30::/64 via fd00:30:0:1::1"])
        // VLAN 30 has no router: no route, and no default route through the other host.
        #expect(lab.node(named: "c1")?.routes.isEmpty == true)
        #expect(lab.node(named: "gw")?.routes.isEmpty == true)
    }

    @Test func framesFollowVLANsAcrossSwitches() throws {
        let lab = try Self.example("vlan-trunk.yaml")
        let layer2 = Layer2(lab)
        func hears(_ id: String) -> [String] {
            let parts = id.split(separator: ":").map(String.init)
            return layer2.hearers(of: InterfaceRef(node: parts[0], interface: parts[1])).map(\.description)
        }
        #expect(hears("a10:eth0") == ["b10:eth0", "gw:eth0.10"] || hears("a10:eth0") == ["gw:eth0.10", "b10:eth0"])
        #expect(Set(hears("gw:eth0.20")) == ["a20:eth0", "b20:eth0"])
        #expect(hears("c1:eth0") == ["c2:eth0"])
        #expect(hears("d2:eth0").isEmpty)
        #expect(hears("gw:eth0").isEmpty)
        let segments = Layer2.segments(of: lab).map { $0.map(\.interface.description) }
        #expect(segments.contains(["gw:eth0.10", "a10:eth0", "b10:eth0"]))
        #expect(segments.contains(["c1:eth0", "c2:eth0"]))
        #expect(segments.contains(["d2:eth0"]))
    }

    @Test func aBridgeWithoutFilteringPassesTagsThroughAndANativeVLANIsUntagged() throws {
        let plain = try #require(decode("""
            name: x
            nodes: { sw: { kind: bridge }, a: , b: , c: }
            links:
              - endpoints: [{ node: a, vlans: [7] }, sw]
              - endpoints: [{ node: b, vlans: [7] }, sw]
              - endpoints: [c, sw]
            """))
        #expect(plain.node(named: "sw")?.vlanFiltering == false)
        let layer2 = Layer2(plain)
        #expect(layer2.hearers(of: InterfaceRef(node: "a", interface: "eth0.7")).map(\.description) == ["b:eth0.7"])
        #expect(layer2.hearers(of: InterfaceRef(node: "a", interface: "eth0")).map(\.description) == ["b:eth0", "c:eth0"])

        let native = try #require(decode("""
            name: x
            nodes: { sw: { kind: bridge }, r: { kind: router }, a: , b: }
            links:
              - { endpoints: [r, sw], vlans: [1, 10], native: 1 }
              - { endpoints: [a, sw], vlan: 10 }
              - endpoints: [b, sw]
            """))
        #expect(native.links[0].endpoints[1].portVLANs == PortVLANs(untagged: 1, tagged: [10]))
        #expect(native.links[0].endpoints[0].subinterfaces.map(\.name) == ["eth0.10"])
        #expect(native.node(named: "sw")?.vlanFiltering == true)
        let layer2n = Layer2(native)
        // b's port is the kernel's default, VLAN 1 untagged: it shares r's untagged native VLAN.
        #expect(layer2n.hearers(of: InterfaceRef(node: "b", interface: "eth0")).map(\.description) == ["r:eth0"])
        #expect(layer2n.hearers(of: InterfaceRef(node: "a", interface: "eth0")).map(\.description) == ["r:eth0.10"])
    }

    @Test func subinterfacesTakeAddressesNamesAndRoutes() throws {
        let lab = try #require(decode("""
            name: x
            nodes: { sw: { kind: bridge, stp: true }, r: { kind: router, routes: ["10.9.0.0/24 via 10.20.0.2 dev v20"] }, a: , b: }
            links:
              - endpoints:
                  - { node: r, vlans: { 10: 10.10.0.254/24, 20: { interface: v20, addresses: [10.20.0.1/24, "fd00:20::1/64"] } } }
                  - { node: sw, vlans: [10, 20] }
              - { endpoints: [a, sw], vlan: 10, addresses: [10.10.0.1/24, ~] }
              - { endpoints: [b, sw], vlan: 20, addresses: [10.20.0.2/24, ~] }
            """))
        #expect(lab.node(named: "sw")?.stp == true)
        let subs = try #require(end(lab, "r:eth0")?.subinterfaces)
        #expect(subs.map(\.name) == ["eth0.10", "v20"])
        #expect(subs.map { $0.addresses.map(\.description) } == [["10.10.0.254/24"], ["10.20.0.1/24", "fd00:20::1/64"]])
        #expect(lab.declaredInterfaces.map(\.id) == ["r:eth0", "r:eth0.10", "r:v20", "sw:eth0", "a:eth0", "sw:eth1", "b:eth0", "sw:eth2"])
    }

    @Test func aBridgedSegmentWithoutAddressesGetsTheSmallestSubnetThatFits() throws {
        let hosts = (1...5).map { "h\($0)" }
        let lab = try #require(decode("""
            name: x
            addressing: { ipv4: 10.1.0.0/24, ipv6: "fd00:1::/48" }
            nodes: { sw: { kind: bridge }, \(hosts.map { "\($0): " }.joined(separator: ", ")), p: , q: }
            links:
            \(hosts.map { "  - endpoints: [\($0), sw]" }.joined(separator: "\n"))
              - endpoints: [p, q]
            """))
        #expect(hosts.map { addresses(lab, $0, "eth0") } == (1...5).map { ["10.1.0.\($0)/29", "fd00:1::\($0)/64"] })
        // The link after the segment: the next /31 and /127 past it.
        #expect(addresses(lab, "p", "eth0") == ["10.1.0.8/31", "fd00:1:0:1::/127"])
        #expect(Validator.subnetLength(for: 2, family: .ipv4, linkLength: 31) == 31)
        #expect(Validator.subnetLength(for: 3, family: .ipv4, linkLength: 31) == 29)
        #expect(Validator.subnetLength(for: 6, family: .ipv4, linkLength: 31) == 29)
        #expect(Validator.subnetLength(for: 7, family: .ipv4, linkLength: 31) == 28)
        #expect(Validator.subnetLength(for: 254, family: .ipv4, linkLength: 31) == 24)
        #expect(Validator.subnetLength(for: 3, family: .ipv6, linkLength: 127) == 64)
    }

    @Test func handWrittenAddressesWinAndPoolSubnetsAvoidThem() throws {
        let lab = try #require(decode("""
            name: x
            addressing: { ipv4: 10.1.0.0/16 }
            nodes: { sw: { kind: bridge }, a: , b: , c: , d: , e: }
            links:
              - { endpoints: [a, sw], addresses: [10.1.0.3/24, ~] }
              - endpoints: [b, sw]
              - endpoints: [d, e]
            """))
        // The segment has a written address: left as written (b gets none); the link skips 10.1.0.0/24 at once.
        #expect(addresses(lab, "b", "eth0").isEmpty)
        #expect(addresses(lab, "d", "eth0") == ["10.1.1.0/31"])
        let small = try #require(decode("""
            name: x
            addressing: { ipv4: 10.1.0.0/24 }
            nodes: { a: , b: , c: , d: }
            links:
              - { endpoints: [a, b], addresses: [10.1.0.1/30, 10.1.0.2/30] }
              - endpoints: [c, d]
            """))
        #expect(addresses(small, "c", "eth0") == ["10.1.0.4/31"])
        // Seven hosts on one switch need a /28: an IPv4 pool of a /29 is too small.
        let hosts = (1...7).map { "h\($0)" }
        expectOnly("name: x\naddressing: { ipv4: 10.1.0.0/29 }\nnodes: { sw: { kind: bridge }, \(hosts.map { "\($0): " }.joined(separator: ", ")) }\n"
                   + "links:\n" + hosts.map { "  - endpoints: [\($0), sw]\n" }.joined(),
                   "lab.yaml:2:13", "the IPv4 pool 10.1.0.0/29 has no room left")
    }

    // MARK: what is refused, and where

    @Test func vlanIDsAreCheckedWhereTheyAreWritten() {
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], vlan: 4095 }\n",
                   "lab.yaml:4:33", "'vlan' 4095 is out of range (1 to 4094)", hint: "802.1Q reserves 0 and 4095")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], vlans: [10, 0] }\n",
                   "lab.yaml:4:39", "a VLAN id in 'vlans' 0 is out of range (1 to 4094)")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], vlans: [10, 20, 10] }\n",
                   "lab.yaml:4:43", "VLAN 10 is listed twice in 'vlans'")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], vlan: ten }\n",
                   "lab.yaml:4:33", "'vlan' must be a whole number from 1 to 4094, found 'ten'")
        expectOnly("name: x\nnodes: { a: , b: }\nlinks:\n  - endpoints: [{ node: a, vlans: { 10: ~, 010: ~ } }, b]\n",
                   "lab.yaml:4:44", "VLAN 10 has two sub-interfaces")
    }

    @Test func accessAndTrunkKeysAreUsedWhereTheyMeanSomething() {
        expectOnly("name: x\nnodes: { a: , b: }\nlinks:\n  - { endpoints: [a, b], vlan: 10 }\n",
                   "lab.yaml:4:32", "neither end of this link is on one", hint: "`vlans: [10]`")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - endpoints: [{ node: a, vlan: 10 }, sw]\n",
                   "lab.yaml:4:34", "'vlan' sets a bridge port, and 'a' is a host, not a bridge", hint: "sub-interface")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], vlan: 10, vlans: [20] }\n",
                   "lab.yaml:4:27", "'vlan' and 'vlans' together")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], native: 1 }\n",
                   "lab.yaml:4:27", "'native' needs 'vlans'")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], vlan: 5, native: 1 }\n",
                   "lab.yaml:4:36", "'native' is for trunks")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - endpoints: [a, { node: sw, vlans: { 10: ~ } }]\n",
                   "lab.yaml:4:39", "port sw:eth0 of a bridge cannot have sub-interfaces")
        expectOnly("name: x\nnodes: { a: , b: }\nlinks:\n  - { endpoints: [a, b], vlans: { 10: ~ } }\n",
                   "lab.yaml:4:33", "on a link, 'vlans' is a list of VLAN ids")
        expectOnly("name: x\nnodes: { a: { stp: true } }\n", "lab.yaml:2:15", "'stp' is a bridge's setting, and 'a' is a host")
        expectOnly("name: x\nnodes: { sw: { kind: bridge, stp: yes please } }\n", "lab.yaml:2:35", "'stp' must be true or false")
        expectOnly("name: x\nnodes: { sw: { kind: bridge, vlan-filtering: false }, a: }\nlinks:\n  - { endpoints: [a, sw], vlan: 10 }\n",
                   "lab.yaml:2:30", "bridge 'sw' has VLAN ports (sw:eth0 is access 10) but 'vlan-filtering' is false")
    }

    @Test func subinterfaceNamesFitTheKernelAndAreUnique() {
        expectOnly("name: x\nnodes: { a: , b: }\nlinks:\n  - endpoints: [{ node: a, interface: longname-eth12, vlans: [4094] }, b]\n",
                   "lab.yaml:4:63", "sub-interface name 'longname-eth12.4094' (INTERFACE.VLAN): interface name 'longname-eth12.4094' is 19 bytes long",
                   hint: "`vlans: { 4094: { interface: v4094 } }`")
        expectOnly("name: x\nnodes: { a: , b: }\nlinks:\n  - endpoints: [a:eth0.10, b]\n  - endpoints: [{ node: a, interface: eth0, vlans: [10] }, b]\n",
                   "lab.yaml:5:53", "interface 'eth0.10' is used twice on node 'a'")
    }

    @Test func whatAHostSendsMustGetThroughItsPort() {
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, r: { kind: router }, a: }\nlinks:\n"
                   + "  - endpoints: [{ node: r, vlans: [10, 30] }, { node: sw, vlans: [10, 20] }]\n  - { endpoints: [a, sw], vlan: 10 }\n",
                   "lab.yaml:4:40", "port sw:eth0 does not carry VLAN 30 (trunk 10,20), so the frames of r:eth0.30 are dropped",
                   hint: "add 30 to the port's `vlans`")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, r: { kind: router }, a: }\nlinks:\n"
                   + "  - endpoints: [{ node: r, vlans: [10] }, { node: sw, vlan: 10 }]\n  - { endpoints: [a, sw], vlan: 10 }\n",
                   "lab.yaml:4:36", "r:eth0.10 sends VLAN 10 tagged, but port sw:eth0 sends and receives VLAN 10 untagged (access 10)")
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, r: { kind: router } }\nlinks:\n"
                   + "  - { endpoints: [r, sw], vlans: [10], addresses: [10.0.0.1/24, ~] }\n",
                   "lab.yaml:4:52", "r:eth0 has addresses, but port sw:eth0 is a trunk without a native VLAN", hint: "`native: N`")
    }

    // MARK: explain across VLANs

    /// The model the kernel would give for a deployed topology: every declared interface up,
    /// connected routes for its subnets, each route on the interface whose subnet has its gateway.
    static func model(of topology: Topology) -> NetworkModel {
        let interfaces = Dictionary(grouping: topology.declaredInterfaces, by: \.node)
        let peers = Dictionary(topology.links.flatMap { link -> [(String, InterfaceRef)] in
            guard link.endpoints.count == 2 else { return [] }
            let (a, b) = (link.endpoints[0], link.endpoints[1])
            return [(a.id, InterfaceRef(node: b.node, interface: b.interface)), (b.id, InterfaceRef(node: a.node, interface: a.interface))]
        }, uniquingKeysWith: { first, _ in first })
        let ports = Dictionary(topology.links.flatMap(\.endpoints).compactMap { end in end.portVLANs.map { (end.id, $0) } },
                               uniquingKeysWith: { first, _ in first })
        let nodes = topology.nodes.map { node -> ModelNode in
            let own = interfaces[node.name] ?? []
            var routes = own.flatMap { interface in interface.addresses.map { ModelRoute($0.network, dev: interface.interface) } }
            for route in node.routes {
                let device = route.device ?? route.gateway.flatMap { gateway in
                    own.first { $0.addresses.contains { $0.contains(gateway) } }?.interface
                }
                routes.append(ModelRoute(route.destination, via: route.gateway, dev: device, metric: route.metric ?? 0))
            }
            return ModelNode(name: node.name, forwardsIPv4: node.kind.forwards, forwardsIPv6: node.kind.forwards,
                             interfaces: own.map {
                                 ModelInterface(name: $0.interface, addresses: $0.addresses, peer: peers[$0.id], vlan: $0.vlan,
                                                parent: $0.parent, portVLANs: ports[$0.id])
                             },
                             routes: routes, isSwitch: node.kind == .bridge, vlanFiltering: node.vlanFiltering)
        }
        return NetworkModel(nodes: nodes)
    }

    @Test func explainFollowsFramesThroughTrunksAndStopsAtVLANs() throws {
        let lab = try Self.example("vlan-trunk.yaml")
        let model = Self.model(of: lab)
        func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text)) }
        // Same VLAN across the trunk: straight there, no hop between.
        let same = model.explain(from: "a10", to: try address("10.0.0.3"))
        #expect(same.reaches, "\(same.summary)")
        #expect(same.forward.hops.map(\.node) == ["a10", "b10"])
        #expect(same.forward.deliveredTo == InterfaceRef(node: "b10", interface: "eth0"))
        // To VLAN 20: through gw, in on eth0.10 and out on eth0.20.
        let routed = model.explain(from: "a10", to: try address("10.0.0.11"))
        #expect(routed.reaches, "\(routed.summary)")
        #expect(routed.forward.hops.map(\.node) == ["a10", "gw", "b20"])
        #expect(routed.forward.hops[1].inInterface == "eth0.10" && routed.forward.hops[1].outInterface == "eth0.20")
        let v6 = model.explain(from: "b20", to: try address("fd00:30::2"))
        #expect(v6.reaches && v6.forward.hops.map(\.node) == ["b20", "gw", "a10"], "\(v6.summary)")
        // Same subnet, other VLAN: the frame reaches no one, and the reason names the VLAN.
        let isolated = model.explain(from: "d2", to: try address("10.99.0.1"))
        #expect(!isolated.reaches)
        #expect(isolated.problem?.cause == .addressMissing)
        #expect(isolated.problem?.detail.contains("none of the interfaces d2:eth0 reaches in VLAN 40 at sw2:eth4 (none)") == true,
                "\(isolated.summary)")
        #expect(isolated.problem?.detail.contains("it is on c1:eth0") == true)
        #expect(model.explain(from: "c1", to: try address("10.99.0.2")).reaches)
        #expect(!model.explain(from: "c1", to: try address("10.99.0.3")).reaches)
    }
}
