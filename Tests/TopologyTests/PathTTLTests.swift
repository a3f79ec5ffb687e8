import NetAddress
import Testing
@testable import Topology

/// The path model counts hops: a packet with TTL t crosses at most t links (each router takes one
/// off and drops what arrives with 1), requests with the TTL they were sent with, replies with
/// the kernel's default (64) of the node that answers.
@Suite struct PathTTLTests {
    /// A chain of `count` routers c0 … c(count-1); link k joins ck (10.0.k.1/24) and ck+1
    /// (10.0.k.2/24); every router has a route to every subnet it is not on.
    static func chain(_ count: Int) -> NetworkModel {
        func prefix(_ link: Int, _ host: Int) -> IPPrefix { IPPrefix(address: .v4(0x0a00_0000 | UInt32(link) << 8 | UInt32(host)), length: 24)! }
        let nodes = (0..<count).map { index -> ModelNode in
            var interfaces: [ModelInterface] = []
            var routes: [ModelRoute] = []
            if index > 0 {
                interfaces.append(ModelInterface(name: "left", addresses: [prefix(index - 1, 2)],
                                                 peer: InterfaceRef(node: "c\(index - 1)", interface: "right")))
            }
            if index < count - 1 {
                interfaces.append(ModelInterface(name: "right", addresses: [prefix(index, 1)],
                                                 peer: InterfaceRef(node: "c\(index + 1)", interface: "left")))
            }
            for link in 0..<(count - 1) {
                if link == index - 1 || link == index {
                    routes.append(ModelRoute(prefix(link, 0).network, dev: link == index ? "right" : "left"))
                } else if link > index {
                    routes.append(ModelRoute(prefix(link, 0).network, via: prefix(index, 2).address, dev: "right"))
                } else {
                    routes.append(ModelRoute(prefix(link, 0).network, via: prefix(index - 1, 1).address, dev: "left"))
                }
            }
            return ModelNode(name: "c\(index)", forwardsIPv4: true, interfaces: interfaces, routes: routes)
        }
        return NetworkModel(nodes: nodes)
    }

    /// c(links)'s address on the link it shares with c(links - 1): `links` hops from c0.
    static func address(hops links: Int) -> IPAddress { .v4(0x0a00_0000 | UInt32(links - 1) << 8 | 2) }

    @Test func aPathOfAsManyHopsAsTheTTLArrivesOneMoreDoesNot() {
        let model = Self.chain(70)
        let sixtyFour = model.explain(from: "c0", to: Self.address(hops: 64))
        #expect(sixtyFour.reaches, "\(sixtyFour.summary)")
        #expect(sixtyFour.forward.hops.count == 65)
        let sixtyFive = model.explain(from: "c0", to: Self.address(hops: 65))
        #expect(!sixtyFive.forward.delivered)
        #expect(sixtyFive.problem?.cause == .ttlExceeded)
        // The 64th link brings it to c64 with TTL 1: c64 drops it.
        #expect(sixtyFive.problem?.node == "c64")
        #expect(sixtyFive.problem?.detail.hasPrefix("the path to 10.0.64.2 is 65 hops, more than the TTL 64 the packet left c0 with (the probe's)") == true,
                "\(sixtyFive.problem?.detail ?? "-")")
    }

    @Test func aLargerProbeTTLGoesFurtherButTheReplyHasTheKernelsDefault() {
        let model = Self.chain(70)
        let explanation = model.explain(from: "c0", to: Self.address(hops: 69), ttl: 255)
        #expect(explanation.forward.delivered)
        #expect(explanation.brokenDirection == .reply)
        #expect(explanation.problem?.cause == .ttlExceeded)
        #expect(explanation.problem?.detail.contains("is 69 hops, more than the TTL 64 the packet left c69 with (the reply's: the kernel's default, net.ipv4.ip_default_ttl)") == true,
                "\(explanation.problem?.detail ?? "-")")
        // A walk without a TTL is not limited.
        #expect(model.walk(from: "c0", to: Self.address(hops: 69)).delivered)
        // A small TTL: broken where it runs out.
        let short = model.explain(from: "c0", to: Self.address(hops: 10), ttl: 3)
        #expect(short.problem?.cause == .ttlExceeded && short.problem?.node == "c3")
    }
}
