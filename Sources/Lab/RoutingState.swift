import Foundation
import NetAddress
import Namespaces
import Routing
import Topology

/// A protocol neighbour of a router as its FRR reports it.
public struct RoutingNeighbour: Codable, Sendable, Equatable {
    /// "ospf", "ospf6" or "bgp".
    public var protocolName: RoutingProtocol
    /// The router's interface it is met on.
    public var interface: String
    /// OSPF: the neighbour's router ID; BGP: its address.
    public var neighbour: String
    /// As FRR says it: "Full/-", "Full", "Established", "Active"…
    public var state: String
    public var isUp: Bool
    /// How long it has been up, when FRR says (BGP's `peerUptimeMsec`).
    public var upForMilliseconds: Int? = nil

    enum CodingKeys: String, CodingKey {
        case protocolName = "protocol", interface, neighbour, state, isUp = "up", upForMilliseconds
    }
}

public struct RouterRoutingState: Codable, Sendable, Equatable {
    public var node: String
    public var neighbours: [RoutingNeighbour]
}

/// What each router's FRR says about its neighbours, from its own JSON output (`vtysh -N
/// NAMESPACE -c 'show … json'` on the host, which talks to the node's daemons' sockets).
public enum RoutingState {
    static func read(_ routers: [RoutedNode], topology: Topology) -> [String: RouterRoutingState] {
        // vtysh waits on the daemons' answers, not the CPU: a few at a time.
        let states = (try? NamespaceThread.forEach(routers, threads: 4) { router in
            read(router, namespace: topology.namespaceName(of: router.name))
        }) ?? []
        return Dictionary(states.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func read(_ router: RoutedNode, namespace: String) -> RouterRoutingState {
        var neighbours: [RoutingNeighbour] = []
        for proto in router.protocols {
            switch proto {
            case .ospf:
                neighbours += ospf(vtysh(namespace, "show ip ospf neighbor json"))
            case .ospf6:
                neighbours += ospf6(vtysh(namespace, "show ipv6 ospf6 neighbor json"))
            case .bgp:
                neighbours += bgp(vtysh(namespace, "show bgp summary json"), router: router)
            }
        }
        return RouterRoutingState(node: router.name, neighbours: neighbours)
    }

    private static func vtysh(_ namespace: String, _ command: String) -> Any? {
        let (status, output) = FRRNodes.runCollecting(["vtysh", "-N", namespace, "-c", command])
        guard status == 0 else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(output.utf8))
    }

    /// `{"neighbors": {ROUTER-ID: [{"nbrState": "Full/-", "ifaceName": "eth0:10.0.0.1"}]}}`
    static func ospf(_ json: Any?) -> [RoutingNeighbour] {
        guard let root = json as? [String: Any], let neighbours = root["neighbors"] as? [String: Any] else { return [] }
        return neighbours.sorted { $0.key < $1.key }.flatMap { id, value -> [RoutingNeighbour] in
            (value as? [[String: Any]] ?? []).map { entry in
                let state = entry["nbrState"] as? String ?? entry["state"] as? String ?? "?"
                let interface = (entry["ifaceName"] as? String ?? "").split(separator: ":").first.map(String.init) ?? ""
                return RoutingNeighbour(protocolName: .ospf, interface: interface, neighbour: id, state: state,
                                        isUp: state.hasPrefix("Full"))
            }
        }
    }

    /// `{"neighbors": [{"neighborId": "…", "state": "Full", "interfaceName": "eth0"}]}`
    static func ospf6(_ json: Any?) -> [RoutingNeighbour] {
        guard let root = json as? [String: Any], let neighbours = root["neighbors"] as? [[String: Any]] else { return [] }
        return neighbours.map { entry in
            let state = entry["state"] as? String ?? "?"
            return RoutingNeighbour(protocolName: .ospf6, interface: entry["interfaceName"] as? String ?? "",
                                    neighbour: entry["neighborId"] as? String ?? "?", state: state, isUp: state == "Full")
        }
    }

    /// `{"ipv4Unicast": {"peers": {ADDRESS: {"state": "Established"}}}, "ipv6Unicast": …}`; the
    /// interface is the one whose subnet holds the peer's address.
    static func bgp(_ json: Any?, router: RoutedNode) -> [RoutingNeighbour] {
        guard let root = json as? [String: Any] else { return [] }
        var result: [RoutingNeighbour] = []
        for family in root.keys.sorted() {
            guard let peers = (root[family] as? [String: Any])?["peers"] as? [String: Any] else { continue }
            for (address, value) in peers.sorted(by: { $0.key < $1.key }) {
                let peer = value as? [String: Any]
                let state = peer?["state"] as? String ?? "?"
                let ip = IPAddress(address)
                let interface = router.interfaces.first { interface in
                    interface.addresses.contains { prefix in ip.map { prefix.network.contains($0) } ?? false }
                }?.name ?? ""
                result.append(RoutingNeighbour(protocolName: .bgp, interface: interface, neighbour: address, state: state,
                                               isUp: state == "Established",
                                               upForMilliseconds: (peer?["peerUptimeMsec"] as? NSNumber)?.intValue))
            }
        }
        return result
    }
}

/// A router's adjacencies or sessions of one protocol on one interface: how many FRR has up,
/// and how many the lab's routing makes there with the peers given.
struct AdjacencyCount: Sendable, Equatable {
    var protocolName: RoutingProtocol
    var interface: String
    var up: Int
    var expected: Int
    var peers: [String]
}

extension RouterRoutingState {
    /// For every interface of `router` with peers (`peers` chooses which count: all, or those
    /// whose link is up) and every protocol it speaks there: the adjacencies expected and up.
    /// A BGP session counts once it has been up `settledAfter` ms (nil: at once).
    func adjacencies(of router: RoutedNode, peers: (RoutedInterface) -> [RoutedPeer], settledAfter: Int? = nil) -> [AdjacencyCount] {
        var counts: [AdjacencyCount] = []
        for interface in router.interfaces {
            let chosen = peers(interface)
            guard !chosen.isEmpty else { continue }
            for proto in router.protocols {
                let expected: Int
                switch proto {
                case .bgp:
                    let names = Set(chosen.map(\.node))
                    expected = FRRConfig.sessions(of: router).filter { $0.interface == interface.name && names.contains($0.peer) }.count
                case .ospf, .ospf6:
                    let family: IPAddress.Family = proto == .ospf ? .ipv4 : .ipv6
                    guard interface.addresses.contains(where: { $0.family == family }) else { continue }
                    expected = chosen.filter { $0.addresses.contains { $0.family == family } }.count
                }
                let up = neighbours.filter { neighbour in
                    neighbour.protocolName == proto && neighbour.interface == interface.name && neighbour.isUp
                        && (neighbour.upForMilliseconds ?? Int.max) >= (settledAfter ?? 0)
                }.count
                counts.append(AdjacencyCount(protocolName: proto, interface: interface.name, up: up, expected: expected,
                                             peers: chosen.map(\.node)))
            }
        }
        return counts
    }
}
