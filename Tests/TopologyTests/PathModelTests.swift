import Foundation
import NetAddress
import Testing
@testable import Topology

private func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
    return address
}

private func net(_ text: String) -> IPPrefix {
    guard let prefix = IPPrefix(text) else { fatalError("bad test prefix \(text)") }
    return prefix
}

/// Seed 001's lab as the kernel holds it after deploy: connected routes plus the static ones.
private func routersModel() -> NetworkModel {
    func link(_ name: String, _ address: String, peer: String) -> ModelInterface {
        let parts = peer.split(separator: ":").map(String.init)
        return ModelInterface(name: name, addresses: [net(address)], peer: InterfaceRef(node: parts[0], interface: parts[1]))
    }
    func connected(_ prefix: String, _ device: String) -> ModelRoute { ModelRoute(net(prefix), dev: device) }
    let ns01 = ModelNode(name: "ns01",
                         interfaces: [link("ns01-veth0", "192.168.0.1/24", peer: "router01:gw01-veth0")],
                         routes: [ModelRoute(net("0.0.0.0/0"), via: ip("192.168.0.254"), dev: "ns01-veth0"),
                                  connected("192.168.0.0/24", "ns01-veth0")],
                         declaredRoutes: [ModelRoute(net("0.0.0.0/0"), via: ip("192.168.0.254"))])
    let router01 = ModelNode(name: "router01", forwardsIPv4: true, forwardsIPv6: true,
                             interfaces: [link("gw01-veth0", "192.168.0.254/24", peer: "ns01:ns01-veth0"),
                                          link("gw01-veth1", "172.16.0.1/24", peer: "router02:gw02-veth0")],
                             routes: [ModelRoute(net("10.0.0.0/24"), via: ip("172.16.0.2"), dev: "gw01-veth1"),
                                      connected("172.16.0.0/24", "gw01-veth1"), connected("192.168.0.0/24", "gw01-veth0")],
                             declaredRoutes: [ModelRoute(net("10.0.0.0/24"), via: ip("172.16.0.2"))])
    let router02 = ModelNode(name: "router02", forwardsIPv4: true, forwardsIPv6: true,
                             interfaces: [link("gw02-veth0", "172.16.0.2/24", peer: "router01:gw01-veth1"),
                                          link("gw02-veth1", "10.0.0.254/24", peer: "ns02:ns02-veth0")],
                             routes: [connected("10.0.0.0/24", "gw02-veth1"), connected("172.16.0.0/24", "gw02-veth0"),
                                      ModelRoute(net("192.168.0.0/24"), via: ip("172.16.0.1"), dev: "gw02-veth0")],
                             declaredRoutes: [ModelRoute(net("192.168.0.0/24"), via: ip("172.16.0.1"))])
    let ns02 = ModelNode(name: "ns02",
                         interfaces: [link("ns02-veth0", "10.0.0.1/24", peer: "router02:gw02-veth1")],
                         routes: [ModelRoute(net("0.0.0.0/0"), via: ip("10.0.0.254"), dev: "ns02-veth0"),
                                  connected("10.0.0.0/24", "ns02-veth0")],
                         declaredRoutes: [ModelRoute(net("0.0.0.0/0"), via: ip("10.0.0.254"))])
    var declared: [InterfaceRef: [IPPrefix]] = [:]
    for node in [ns01, router01, router02, ns02] {
        for interface in node.interfaces { declared[InterfaceRef(node: node.name, interface: interface.name)] = interface.addresses }
    }
    return NetworkModel(nodes: [ns01, router01, router02, ns02], declaredAddresses: declared)
}

private extension NetworkModel {
    mutating func change(_ node: String, _ body: (inout ModelNode) -> Void) {
        guard let index = nodes.firstIndex(where: { $0.name == node }) else { fatalError("no node \(node)") }
        body(&nodes[index])
    }
}

@Suite("Path model: walking routes hop by hop")
struct PathModelTests {
    @Test func routersLabReachesBothWays() {
        let explanation = routersModel().explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(explanation.reaches)
        #expect(explanation.forward.hops.map(\.node) == ["ns01", "router01", "router02", "ns02"])
        #expect(explanation.forward.source == ip("192.168.0.1"))
        #expect(explanation.forward.deliveredTo == InterfaceRef(node: "ns02", interface: "ns02-veth0"))
        #expect(explanation.reply?.hops.map(\.node) == ["ns02", "router02", "router01", "ns01"])
        #expect(explanation.forward.intermediateNodes == ["router01", "router02"])
        #expect(explanation.forward.hops[1].inInterface == "gw01-veth0")
        #expect(explanation.forward.hops[1].outInterface == "gw01-veth1")
        #expect(explanation.forward.hops[1].route == "10.0.0.0/24 via 172.16.0.2 dev gw01-veth1")
    }

    @Test func longestPrefixWinsThenLowestMetric() {
        let node = ModelNode(name: "n", routes: [
            ModelRoute(net("0.0.0.0/0"), via: ip("10.0.0.1"), dev: "a"),
            ModelRoute(net("10.1.0.0/16"), via: ip("10.0.0.2"), dev: "a", metric: 5),
            ModelRoute(net("10.1.2.0/24"), via: ip("10.0.0.3"), dev: "a", metric: 100),
            ModelRoute(net("10.1.2.0/24"), via: ip("10.0.0.4"), dev: "a", metric: 10),
            ModelRoute(net("fd00::/64"), dev: "a", metric: 256),
        ])
        #expect(node.lookup(ip("10.1.2.3"))?.gateway == ip("10.0.0.4"))
        #expect(node.lookup(ip("10.1.9.9"))?.gateway == ip("10.0.0.2"))
        #expect(node.lookup(ip("192.0.2.1"))?.gateway == ip("10.0.0.1"))
        #expect(node.lookup(ip("fd00::9"))?.destination == net("fd00::/64"))
        #expect(node.lookup(ip("fd01::9")) == nil, "no IPv6 default: IPv4 routes never match IPv6")
    }

    @Test func connectedRouteBeatsDefault() {
        let model = routersModel()
        #expect(model.node(named: "ns01")?.lookup(ip("192.168.0.254"))?.gateway == nil)
    }

    /// The canonical case: `ip -n router02 route del 192.168.0.0/24`.
    @Test func missingReturnRouteBreaksTheReplyAtRouter02() {
        var model = routersModel()
        model.change("router02") { $0.routes.removeAll { $0.destination == net("192.168.0.0/24") } }
        let explanation = model.explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(explanation.forward.delivered, "the request still gets to ns02")
        #expect(explanation.brokenDirection == .reply)
        #expect(explanation.problem?.node == "router02")
        #expect(explanation.problem?.cause == .noRoute)
        #expect(explanation.problem?.detail.contains("no route to 192.168.0.1") == true)
        #expect(explanation.problem?.detail.contains("192.168.0.0/24 via 172.16.0.1") == true)
        #expect(explanation.summary.contains("forward path works, reply path breaks at router02"))
        // From the other side the request itself stops at the same hop.
        let back = model.explain(from: "ns02", to: ip("192.168.0.1"))
        #expect(back.brokenDirection == .forward)
        #expect(back.problem?.node == "router02")
    }

    @Test func forwardingOffStopsAtTheRouter() {
        var model = routersModel()
        model.change("router01") { $0.forwardsIPv4 = false }
        let explanation = model.explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(explanation.problem?.cause == .forwardingOff)
        #expect(explanation.problem?.node == "router01")
        // A router still answers for its own addresses with forwarding off.
        #expect(model.explain(from: "ns01", to: ip("172.16.0.1")).reaches)
    }

    @Test func linkDownNamesTheInterfaceWhoseRoutesTheKernelRemoved() {
        var model = routersModel()
        model.change("router01") { node in
            node.interfaces[1].up = false
            node.routes.removeAll { $0.device == "gw01-veth1" }
        }
        model.change("router02") { $0.interfaces[0].carrier = false }
        let explanation = model.explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(explanation.problem?.node == "router01")
        #expect(explanation.problem?.cause == .linkDown)
        #expect(explanation.problem?.detail.contains("router01:gw01-veth1 is down") == true)
        // From the far side, router02 still has its route but no carrier.
        let back = model.explain(from: "ns02", to: ip("192.168.0.1"))
        #expect(back.problem?.node == "router02")
        #expect(back.problem?.cause == .noCarrier)
        #expect(back.problem?.detail.contains("router01:gw01-veth1") == true)
    }

    @Test func removedAddressIsNamedWithItsDeclaredOwner() {
        var model = routersModel()
        model.change("ns02") { $0.interfaces[0].addresses = [] }
        let explanation = model.explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(explanation.problem?.node == "router02")
        #expect(explanation.problem?.cause == .addressMissing)
        #expect(explanation.problem?.detail.contains("ns02:ns02-veth0, which no longer has it") == true)
    }

    @Test func gatewayNobodyHasIsUnreachable() {
        var model = routersModel()
        model.change("ns01") { node in
            node.routes[0].gateway = ip("192.168.0.99")
            node.neighbours = [ModelNeighbour(interface: "ns01-veth0", address: ip("192.168.0.99"), state: "FAILED", isFailed: true)]
        }
        let explanation = model.explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(explanation.problem?.node == "ns01")
        #expect(explanation.problem?.cause == .gatewayUnreachable)
        #expect(explanation.problem?.detail.contains("FAILED") == true)
        model.change("ns01") { $0.routes[0].gateway = ip("172.31.0.1") }
        #expect(model.explain(from: "ns01", to: ip("10.0.0.1")).problem?.cause == .gatewayNotConnected)
    }

    @Test func loopsAndRejectRoutesAreNamed() {
        var model = routersModel()
        model.change("router02") { node in
            node.routes.removeAll { $0.destination == net("10.0.0.0/24") }
            node.routes.append(ModelRoute(net("10.0.0.0/24"), via: ip("172.16.0.1"), dev: "gw02-veth0"))
        }
        #expect(model.explain(from: "ns01", to: ip("10.0.0.1")).problem?.cause == .loop)
        model.change("router01") { $0.routes.insert(ModelRoute(net("10.0.0.0/24"), kind: .blackhole), at: 0) }
        // The blackhole has metric 0 and the same length as the static route (metric 0): first wins.
        let explanation = model.explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(explanation.problem?.cause == .rejectRoute)
    }

    @Test func sourceAddressFollowsTheOutgoingInterfaceOrPrefsrc() {
        let node = ModelNode(name: "n", interfaces: [
            ModelInterface(name: "a", addresses: [net("10.0.0.1/24"), net("10.9.0.1/24"), net("fe80::1/64"), net("fd00::1/64")]),
            ModelInterface(name: "b", addresses: [net("172.16.0.1/24")]),
        ])
        #expect(node.sourceAddress(for: ModelRoute(net("0.0.0.0/0"), via: ip("10.9.0.254"), dev: "a"), to: ip("8.8.8.8")) == ip("10.9.0.1"))
        #expect(node.sourceAddress(for: ModelRoute(net("0.0.0.0/0"), via: ip("10.9.0.254"), dev: "a", source: ip("172.16.0.1")),
                                   to: ip("8.8.8.8")) == ip("172.16.0.1"))
        #expect(node.sourceAddress(for: ModelRoute(net("::/0"), via: ip("fe80::2"), dev: "a"), to: ip("fd01::1")) == ip("fd00::1"))
    }

    @Test func explicitSourceMustBelongToTheNode() {
        let explanation = routersModel().explain(from: "ns01", to: ip("10.0.0.1"), sourceAddress: ip("10.0.0.254"))
        #expect(explanation.problem?.cause == .noSourceAddress)
    }
}

/// A star: `hub` (forwarding as given) with one /30 per leaf, every leaf a default route to it.
private func starModel(leaves: Int, hubForwards: Bool) -> NetworkModel {
    var hub = ModelNode(name: "hub", forwardsIPv4: hubForwards)
    var nodes: [ModelNode] = []
    var hubInterfaces: [ModelInterface] = []
    var hubRoutes: [ModelRoute] = []
    for leaf in 0..<leaves {
        let base = UInt32(0x0a00_0000) + UInt32(leaf) * 4
        let near = IPAddress.v4(base + 1), far = IPAddress.v4(base + 2)
        guard let subnet = IPPrefix(address: .v4(base), length: 30), let nearPrefix = IPPrefix(address: near, length: 30),
              let farPrefix = IPPrefix(address: far, length: 30), let everything = IPPrefix(address: .v4(0), length: 0)
        else { fatalError("bad star address") }
        hubInterfaces.append(ModelInterface(name: "eth\(leaf)", addresses: [nearPrefix], peer: InterfaceRef(node: "leaf\(leaf)", interface: "eth0")))
        hubRoutes.append(ModelRoute(subnet, dev: "eth\(leaf)"))
        nodes.append(ModelNode(name: "leaf\(leaf)",
                               interfaces: [ModelInterface(name: "eth0", addresses: [farPrefix], peer: InterfaceRef(node: "hub", interface: "eth\(leaf)"))],
                               routes: [ModelRoute(everything, via: near, dev: "eth0"), ModelRoute(subnet, dev: "eth0")]))
    }
    hub.interfaces = hubInterfaces
    hub.routes = hubRoutes
    return NetworkModel(nodes: [hub] + nodes)
}

@Suite("Path model: built once, cheap per walk")
struct PathModelScaleTests {
    /// Every walk used to rebuild layer 2 and search the nodes by name: O(nodes²) per failed pair,
    /// hours for these 4,000 walks. With the model's indexes they take well under a second.
    @Test func aThousandsOfLeavesStarExplainsEveryFailureQuickly() {
        let leaves = 4000
        let model = starModel(leaves: leaves, hubForwards: false)
        let started = ContinuousClock.now
        for leaf in 0..<leaves {
            let other = (leaf + 1) % leaves
            let explanation = model.explain(from: "leaf\(leaf)", to: .v4(UInt32(0x0a00_0000) + UInt32(other) * 4 + 2))
            #expect(explanation.problem?.node == "hub" && explanation.problem?.cause == .forwardingOff)
        }
        #expect(ContinuousClock.now - started < .seconds(20), "4,000 walks through a 4,000-interface hub")
        // With forwarding on, every pair is delivered and answered.
        let working = starModel(leaves: 300, hubForwards: true)
        #expect(working.explain(from: "leaf0", to: .v4(0x0a00_0000 + 299 * 4 + 2)).reaches)
    }

    @Test func theIndexesFollowEveryChange() {
        var model = starModel(leaves: 3, hubForwards: true)
        let leaf2 = IPAddress.v4(0x0a00_0000 + 2 * 4 + 2)
        #expect(model.owner(of: leaf2) == InterfaceRef(node: "leaf2", interface: "eth0"))
        #expect(model.explain(from: "leaf0", to: leaf2).reaches)
        // An address removed: its owner is gone, and the walk says so.
        model.change("leaf2") { $0.interfaces[0].addresses = [] }
        #expect(model.owner(of: leaf2) == nil)
        #expect(model.node(named: "leaf2")?.owner(of: leaf2) == nil)
        #expect(model.explain(from: "leaf0", to: leaf2).problem?.cause == .addressMissing)
        // A cable down: layer 2 is rebuilt with the nodes.
        model.change("hub") { $0.interfaces[1].up = false }
        #expect(model.explain(from: "leaf0", to: .v4(0x0a00_0000 + 1 * 4 + 2)).problem?.cause == .linkDown)
        // Routes replaced: the lookup table with them.
        model.change("leaf0") { $0.routes = [] }
        #expect(model.explain(from: "leaf0", to: leaf2).problem?.cause == .noRoute)
    }

    @Test func lookupIsLongestPrefixThenLowestMetricThenFirst() {
        let node = ModelNode(name: "r", routes: [
            ModelRoute(net("0.0.0.0/0"), via: ip("10.0.0.1"), dev: "a"),
            ModelRoute(net("10.1.0.0/16"), via: ip("10.0.0.2"), dev: "a", metric: 20),
            ModelRoute(net("10.1.0.0/16"), via: ip("10.0.0.3"), dev: "a", metric: 10),
            ModelRoute(net("10.1.0.0/16"), via: ip("10.0.0.4"), dev: "a", metric: 10),
            ModelRoute(net("10.1.2.0/24"), via: ip("10.0.0.5"), dev: "b"),
            ModelRoute(net("fd00::/64"), dev: "c"),
        ])
        #expect(node.lookup(ip("10.1.2.3"))?.gateway == ip("10.0.0.5"))
        #expect(node.lookup(ip("10.1.9.9"))?.gateway == ip("10.0.0.3"), "lowest metric, the first of equals")
        #expect(node.lookup(ip("192.0.2.1"))?.gateway == ip("10.0.0.1"))
        #expect(node.lookup(ip("fd00::5"))?.device == "c")
        #expect(node.lookup(ip("fd01::5")) == nil, "no IPv6 default route")
    }
}

/// A spread lab's model: each host's part read as JSON, joined across the links between hosts.
@Suite("Path model of a lab spread over hosts")
struct SpreadPathModelTests {
    /// The routers lab cut between router01 (here) and router02 (another host), as each host's
    /// `nslab model` gives its part: the link between them a VXLAN end on each side.
    static func parts() throws -> (here: NetworkModel, there: [ModelNode]) {
        var here = routersModel()
        let there = here.nodes.filter { ["router02", "ns02"].contains($0.name) }
        here.nodes.removeAll { ["router02", "ns02"].contains($0.name) }
        here.markOtherHost(InterfaceRef(node: "router01", interface: "gw01-veth1"), host: "h2")
        // Through JSON, as it travels over ssh.
        let encoder = JSONEncoder()
        let decoded = try JSONDecoder().decode([ModelNode].self, from: try encoder.encode(there))
        return (here, decoded)
    }

    @Test func aPartAloneStopsAtTheLinkToAnotherHost() throws {
        let (here, _) = try Self.parts()
        let walk = here.walk(from: "ns01", to: ip("10.0.0.1"))
        #expect(walk.problem?.cause == .otherHost && walk.problem?.node == "router01")
    }

    @Test func joinedPartsWalkTheWholePathAsOneLabDoes() throws {
        let (here, there) = try Self.parts()
        let joined = here.joined(with: there, across: [(InterfaceRef(node: "router01", interface: "gw01-veth1"),
                                                       InterfaceRef(node: "router02", interface: "gw02-veth0"))])
        let whole = routersModel().explain(from: "ns01", to: ip("10.0.0.1"))
        let spread = joined.explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(spread.reaches)
        #expect(spread.forward.hops.map(\.node) == whole.forward.hops.map(\.node))
        #expect(spread.reply?.hops.map(\.route) == whole.reply?.hops.map(\.route))
        // A route lost on the far host is found there.
        var broken = there
        broken[0].routes.removeAll { $0.destination == net("192.168.0.0/24") }
        let lost = here.joined(with: broken, across: [(InterfaceRef(node: "router01", interface: "gw01-veth1"),
                                                      InterfaceRef(node: "router02", interface: "gw02-veth0"))])
            .explain(from: "ns01", to: ip("10.0.0.1"))
        #expect(lost.brokenDirection == .reply && lost.problem?.node == "router02" && lost.problem?.cause == .noRoute)
    }
}
