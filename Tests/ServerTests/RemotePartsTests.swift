import Foundation
import Lab
@testable import Server
import Testing

/// A spread lab's other hosts on the page: their nodes from their hosts' `inspect --json`, the
/// links between machines from the record, and the hosts' events applied by interface name.
@Suite("serve: the other hosts' parts of a spread lab")
struct RemotePartsTests {
    /// Host h2's part as its `nslab inspect --json` reads it: c and d on a veth, c's end of a
    /// link to host h3 a VXLAN.
    static let h2 = """
        {"lab": "two", "complete": true, "nodes": [
          {"name": "c", "namespace": "c", "kind": "router", "present": true, "forwarding": {}, "routes": [], "interfaces": [
            {"name": "eth0", "index": 2, "state": "UP", "up": true, "carrier": true, "kind": "veth", "addresses": ["10.5.0.1/30"],
             "peer": {"node": "d", "interface": "eth0"}},
            {"name": "eth1", "index": 3, "state": "UP", "up": true, "carrier": true, "kind": "vxlan", "addresses": ["10.6.0.1/30"]}]},
          {"name": "d", "namespace": "d", "present": true, "forwarding": {}, "routes": [], "interfaces": [
            {"name": "eth0", "index": 2, "state": "UP", "up": true, "carrier": true, "kind": "veth", "addresses": ["10.5.0.2/30"],
             "peer": {"node": "c", "interface": "eth0"}}]}]}
        """

    static func lab() throws -> LiveLab {
        var live = try LiveLabTests.lab()
        let layout = SpreadLayout(lab: "two", hosts: ["h2", "h3"],
                                  remoteNodes: [.init(name: "c", host: "h2", kind: .router), .init(name: "d", host: "h2", kind: .host),
                                                .init(name: "x", host: "h3", kind: .host)],
                                  crossHostLinks: [["c:eth1", "x:eth0"]])
        let state = try JSONDecoder().decode(LabState.self, from: Data(h2.utf8))
        live.addParts(layout, states: ["h2": .success(state), "h3": .failure(.refused("host h3: cannot be reached"))])
        return live
    }

    @Test func everyHostsNodesAndLinksWithTheirHost() throws {
        let live = try Self.lab()
        #expect(live.view.nodes.map { "\($0.name) \($0.host ?? "-") \($0.kind) \($0.present)" }
                == ["b - host true", "a - host true", "c h2 router true", "d h2 host true", "x h3 host false"])
        #expect(live.view.links.map(\.id) == ["a:eth0--b:eth0", "c:eth0--d:eth0", "c:eth1--x:eth0"])
        let vxlan = live.view.nodes.first { $0.name == "c" }?.interfaces.first { $0.name == "eth1" }
        #expect(vxlan?.peer == "x:eth0", "a link between hosts knows its far end from the record")
    }

    @Test func theHostsEventsChangeTheirInterfaces() throws {
        var live = try Self.lab()
        let down = LabEvent(type: .linkDown, lab: "two", node: "c", interface: "c:eth0", host: "h2")
        guard case .interface(let node, let interface) = live.apply(down) else { Issue.record("no change"); return }
        #expect(node == "c" && interface.name == "eth0" && !interface.up && interface.state == "DOWN")
        #expect(live.apply(down) == .none, "the same state again")
        let lost = LabEvent(type: .carrierDown, lab: "two", node: "d", interface: "d:eth0", host: "h2")
        guard case .interface(_, let peer) = live.apply(lost) else { Issue.record("no change"); return }
        #expect(peer.up && !peer.carrier && peer.state == "LOWERLAYERDOWN")

        let impaired = LabEvent(type: .impairmentSet, lab: "two", node: "c", interface: "c:eth1", impairment: "delay=20ms", host: "h2")
        guard case .interface(_, let tunnel) = live.apply(impaired) else { Issue.record("no change"); return }
        #expect(tunnel.impairment == "delay=20ms")
        let address = LabEvent(type: .addressAdded, lab: "two", node: "d", interface: "d:eth0", address: "10.5.0.6/30", host: "h2")
        guard case .interface(_, let added) = live.apply(address) else { Issue.record("no change"); return }
        #expect(added.addresses == ["10.5.0.2/30", "10.5.0.6/30"])

        // What changes the lab's shape is read again; what the page does not draw is nothing.
        #expect(live.apply(LabEvent(type: .interfaceAdded, lab: "two", node: "d", interface: "d:eth9", host: "h2")) == .structure)
        #expect(live.apply(LabEvent(type: .linkUp, lab: "two", node: "d", interface: "d:eth9", host: "h2")) == .structure)
        #expect(live.apply(LabEvent(type: .routeRemoved, lab: "two", node: "d", destination: "default", host: "h2")) == .none)
        #expect(live.apply(LabEvent(type: .labDestroyed, lab: "two", host: "h2")) == .structure)
    }
}
