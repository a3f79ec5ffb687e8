import NetAddress
import Topology

/// The routing protocols nslab configures, as FRR names their daemons' families.
public enum RoutingProtocol: String, Sendable, Codable, CaseIterable {
    /// OSPFv2: IPv4.
    case ospf
    /// OSPFv3: IPv6.
    case ospf6
    case bgp

    /// The daemon that speaks it.
    public var daemon: String {
        switch self {
        case .ospf: "ospfd"
        case .ospf6: "ospf6d"
        case .bgp: "bgpd"
        }
    }

    /// The kernel's `proto` of the routes zebra installs for it (rtnetlink.h: RTPROT_OSPF 188,
    /// RTPROT_BGP 186), and its name as `ip route` prints it.
    public var kernelProtocol: UInt8 { self == .bgp ? 186 : 188 }
}

/// An interface of a node running FRR, with what the protocols need to know about it.
public struct RoutedInterface: Sendable, Equatable {
    public var name: String
    public var addresses: [IPPrefix]
    /// The other FRR routers heard on its segment (a link or a bridge), in file order.
    public var peers: [RoutedPeer]
    /// Hosts, or nothing but this interface: its subnets are announced, no adjacency is tried.
    public var passive: Bool { peers.isEmpty }
    /// Two routers alone on a link: OSPF skips the designated-router election.
    public var pointToPoint: Bool
    public var area: OSPFArea
    public var cost: UInt32?
}

public struct RoutedPeer: Sendable, Equatable {
    public var node: String
    public var interface: String
    public var addresses: [IPPrefix]
    /// The peer's AS under `routing: bgp`.
    public var asNumber: UInt32?
}

/// One node that runs FRR.
public struct RoutedNode: Sendable, Equatable {
    public var name: String
    /// What the lab's `routing:` runs here: OSPF for the families its interfaces have, or BGP.
    /// Empty for a node that runs FRR only for its own `frr:`.
    public var protocols: [RoutingProtocol]
    public var routerID: IPAddress
    public var asNumber: UInt32?
    public var interfaces: [RoutedInterface]
    public var own: FRRSettings?
    /// The lab it is a node of.
    public var lab: String = ""
}

/// Which nodes run FRR and what each speaks, from the topology: pure, the same file always
/// gives the same result.
public struct RoutedLab: Sendable {
    public var lab: String
    public var routing: RoutingMode
    /// In file order.
    public var nodes: [RoutedNode]

    public func node(_ name: String) -> RoutedNode? { nodes.first { $0.name == name } }

    /// Every router under `routing: ospf|bgp`, and every node with its own `frr:`.
    public static func runsFRR(_ node: Node, in topology: Topology) -> Bool { topology.runsFRR(node) }

    public init(_ topology: Topology) {
        lab = topology.name
        routing = topology.routing
        let speakerNames = Set(topology.routingSpeakers.map(\.name))
        let asNumbers = topology.asNumbers()
        let nodeAreas = Dictionary(topology.nodes.compactMap { node in node.area.map { (node.name, $0) } },
                                   uniquingKeysWith: { first, _ in first })

        // Who hears whom: a segment is a link, or every interface one bridge (VLAN) joins.
        var interfaces: [String: [RoutedInterface]] = [:]
        for segment in Layer2.segments(of: topology) {
            let members = segment.map { attachment -> (node: String, interface: String, addresses: [IPPrefix], link: Link, end: Endpoint) in
                let link = topology.links[attachment.link]
                let end = link.endpoints[attachment.end]
                let addresses = attachment.subinterface.map { end.subinterfaces[$0].addresses } ?? end.addresses
                return (attachment.interface.node, attachment.interface.interface, addresses, link, end)
            }
            for member in members {
                let peers = members.filter { $0.node != member.node && speakerNames.contains($0.node) }.map {
                    RoutedPeer(node: $0.node, interface: $0.interface, addresses: $0.addresses, asNumber: asNumbers[$0.node])
                }
                // A router's link to a switch decides the area of the whole segment for it.
                let area = member.link.area ?? nodeAreas[member.node] ?? peers.lazy.compactMap { nodeAreas[$0.node] }.first ?? .backbone
                interfaces[member.node, default: []].append(RoutedInterface(
                    name: member.interface, addresses: member.addresses, peers: speakerNames.contains(member.node) ? peers : [],
                    pointToPoint: members.count == 2, area: area, cost: member.end.cost))
            }
        }
        for (node, interface) in Self.tunnelInterfaces(topology, speakers: speakerNames, asNumbers: asNumbers, areas: nodeAreas) {
            interfaces[node, default: []].append(interface)
        }
        let routerIDs = topology.routerIDs()
        var routed: [RoutedNode] = []
        for node in topology.nodes where topology.runsFRR(node) {
            let own = interfaces[node.name] ?? []
            let families = Set(own.flatMap { $0.addresses.map(\.family) })
            var protocols: [RoutingProtocol] = []
            if speakerNames.contains(node.name) {
                switch topology.routing {
                case .ospf:
                    if families.contains(.ipv4) { protocols.append(.ospf) }
                    if families.contains(.ipv6) { protocols.append(.ospf6) }
                case .bgp: protocols.append(.bgp)
                case .none, .static: break
                }
            }
            routed.append(RoutedNode(name: node.name, protocols: protocols, routerID: routerIDs[node.name] ?? .v4(0),
                                     asNumber: asNumbers[node.name], interfaces: own, own: node.frr, lab: topology.name))
        }
        nodes = routed
    }

    /// The ends of links to another machine (a link's `vxlan:`), as interfaces of their nodes. The
    /// far end is known by `peer:` and `remote:`: a router there is a peer on a segment of two (a
    /// spread lab's links between hosts join routers or hosts, never a bridge), anything else
    /// leaves the interface passive.
    private static func tunnelInterfaces(_ topology: Topology, speakers: Set<String>, asNumbers: [String: UInt32],
                                         areas: [String: OSPFArea]) -> [(String, RoutedInterface)] {
        let remoteSpeakers = topology.routing.isDynamic
            ? Dictionary(topology.remoteNodes.filter { $0.kind == .router }.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            : [:]
        return topology.links.compactMap { link in
            guard let tunnel = link.tunnel, link.endpoints.count == 1 else { return nil }
            let end = link.endpoints[0]
            var peers: [RoutedPeer] = []
            if speakers.contains(end.node), let far = tunnel.peerEnd, let remote = remoteSpeakers[far.node] {
                peers.append(RoutedPeer(node: remote.name, interface: far.interface,
                                        addresses: remote.interfaces.first { $0.interface == far.interface }?.addresses ?? [],
                                        asNumber: asNumbers[remote.name]))
            }
            return (end.node, RoutedInterface(name: end.interface, addresses: end.addresses, peers: peers, pointToPoint: true,
                                              area: link.area ?? areas[end.node] ?? .backbone, cost: end.cost))
        }
    }
}
