import NetAddress
import Testing
@testable import Topology

/// `kind: bridge`: what the file may say about a switch, and how routes are computed across one.
@Suite struct BridgeTests {
    static let lan = """
        name: lan
        routing: static
        nodes: { sw: { kind: bridge }, a: , b: , gw: { kind: router }, c: }
        links:
          - { endpoints: [a, sw], addresses: [10.1.0.1/24, ~] }
          - { endpoints: [b, sw], addresses: [10.1.0.2/24, ~] }
          - { endpoints: [gw, sw], addresses: [10.1.0.254/24, ~] }
          - { endpoints: [gw, c], addresses: [10.2.0.254/24, 10.2.0.1/24] }

        """

    @Test func routesGoThroughTheRouterOnTheSegmentNotTheBridge() throws {
        let lab = try #require(decode(Self.lan))
        #expect(lab.node(named: "sw")?.kind == .bridge)
        #expect(lab.node(named: "sw")?.routes.isEmpty == true)
        #expect(lab.node(named: "a")?.routes.map(\.text) == ["10.2.0.0/24 via 10.1.0.254"])
        #expect(lab.node(named: "c")?.routes.map(\.text) == ["default via 10.2.0.254"])
        #expect(lab.node(named: "gw")?.routes.isEmpty == true)
    }

    @Test func aBridgePortWithAnAddressOrABridgeWithRoutesIsRefused() {
        expectOnly("name: x\nnodes: { sw: { kind: bridge }, a: }\nlinks:\n  - { endpoints: [a, sw], addresses: [10.0.0.1/24, 10.0.0.2/24] }\n",
                   "lab.yaml:4:52", "port sw:eth0 of bridge 'sw' cannot have an address", hint: "the bridge is a switch")
        expectSome("name: x\nnodes: { sw: { kind: bridge, routes: [default dev eth0] }, a: }\nlinks:\n  - endpoints: [a, sw]\n",
                   "lab.yaml:2:39", "bridge 'sw' cannot have routes")
        expectOnly("name: x\nnodes: { sw: { kind: swtich } }\n", "lab.yaml:2:22", "unknown node kind 'swtich'", hint: "'bridge' is a switch")
    }

    /// a is alone on sw's segment with an address written by hand: nothing is added to it.
    @Test func aBridgedSegmentWithAWrittenAddressIsLeftAsWritten() throws {
        let lab = try #require(decode("""
            name: x
            addressing: { ipv4: 10.9.0.0/24 }
            nodes: { sw: { kind: bridge }, a: , b: , r: { kind: router } }
            links:
              - { endpoints: [a, sw], addresses: [10.5.0.1/24, ~] }
              - { endpoints: [r, b] }
            """))
        #expect(lab.links[0].endpoints[1].addresses.isEmpty)
        #expect(lab.links[1].endpoints.map { $0.addresses.map(\.description) } == [["10.9.0.0/31"], ["10.9.0.1/31"]])
    }

    /// explain across a switch: the next hop is whichever node on the bridge's other ports has it.
    @Test func thePathModelCrossesASwitch() throws {
        func interface(_ name: String, _ address: String?, peer: (String, String)) -> ModelInterface {
            ModelInterface(name: name, addresses: address.flatMap { IPPrefix($0) }.map { [$0] } ?? [],
                           peer: InterfaceRef(node: peer.0, interface: peer.1))
        }
        let a = ModelNode(name: "a", interfaces: [interface("eth0", "10.1.0.1/24", peer: ("sw", "eth0"))],
                          routes: [ModelRoute(try #require(IPPrefix("10.1.0.0/24")), dev: "eth0")])
        let b = ModelNode(name: "b", interfaces: [interface("eth0", "10.1.0.2/24", peer: ("sw", "eth1"))],
                          routes: [ModelRoute(try #require(IPPrefix("10.1.0.0/24")), dev: "eth0")])
        let sw = ModelNode(name: "sw", interfaces: [interface("eth0", nil, peer: ("a", "eth0")), interface("eth1", nil, peer: ("b", "eth0"))],
                           isSwitch: true)
        let model = NetworkModel(nodes: [a, sw, b])
        let result = model.explain(from: "a", to: try #require(IPAddress("10.1.0.2")))
        #expect(result.reaches, "\(result)")
    }
}
