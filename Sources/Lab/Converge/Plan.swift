import Foundation
import NetAddress
import Netlink
import Routing
import Topology

/// The desired state of a lab: every kernel object and file the topology asks for, computed once.
/// `diff` compares it with what the kernel holds (ObservedLab), converging applies the
/// difference, and a fresh deploy is the difference from nothing.
public struct LabPlan: Sendable {
    public var lab: String
    public var prefix: String
    /// In file order.
    public var nodes: [PlannedNode]
    /// In file order.
    public var links: [PlannedLink]

    public func node(_ name: String) -> PlannedNode? { nodeIndex[name].map { nodes[$0] } }

    private var nodeIndex: [String: Int] = [:]

    public init(_ topology: Topology) {
        lab = topology.name
        prefix = topology.prefix
        let neighbours = StaticNeighbours(topology)
        let hosts = HostsFile.Table(topology)
        let hostHasResolvConf = FileManager.default.fileExists(atPath: "/etc/resolv.conf")
        var interfaces: [String: [PlannedInterface]] = [:]
        links = []
        for link in topology.links {
            let ends = link.endpoints.map { InterfaceRef(node: $0.node, interface: $0.interface) }
            let kind: LinkKind
            if let tunnel = link.tunnel, ends.count == 1 {
                kind = .vxlan(tunnel)
            } else if ends.count == 2 {
                kind = .veth
            } else {
                continue
            }
            links.append(PlannedLink(kind: kind, ends: ends))
            for (i, endpoint) in link.endpoints.enumerated() {
                let onBridge = topology.node(named: endpoint.node)?.kind == .bridge
                var interface = PlannedInterface(
                    name: endpoint.interface, kind: .linkEnd(peer: kind.peer(of: i, ends: ends), link: kind),
                    mtu: endpoint.mtu, mac: neighbours?.mac(of: endpoint) ?? endpoint.mac,
                    addresses: endpoint.addresses, up: !link.isDown,
                    master: onBridge ? LabDeployer.bridgeName : nil,
                    portVLANs: onBridge ? endpoint.portVLANs : nil,
                    impairment: link.impairment(of: i).flatMap { $0.isEmpty ? nil : $0 })
                interface.permanentNeighbours = neighbours?.entries(for: endpoint) ?? []
                interfaces[endpoint.node, default: []].append(interface)
                for sub in endpoint.subinterfaces {
                    interfaces[endpoint.node, default: []].append(PlannedInterface(
                        name: sub.name, kind: .vlan(parent: endpoint.interface, id: sub.vlan),
                        addresses: sub.addresses, up: true))
                }
            }
        }
        // The generated hosts file is the same for every node with an address: made once and
        // shared (a 1,000-node lab's is 60 KB; one per node was most of `diff`'s time).
        var sharedHosts: String?
        let files = { (node: Node) -> [PlannedFile] in
            NodeFiles.fileNames(of: node, hostHasResolvConf: hostHasResolvConf).map { name in
                if name == "hosts", !node.files.contains(where: { $0.name == "hosts" }), hosts.addressed.contains(node.name) {
                    let content = sharedHosts ?? NodeFiles.content(of: name, node: node, lab: topology.name, hosts: hosts)
                    sharedHosts = content
                    return PlannedFile(name: name, content: content)
                }
                return PlannedFile(name: name, content: NodeFiles.content(of: name, node: node, lab: topology.name, hosts: hosts))
            }
        }
        // RoutedLab walks the lab's segments: only for a lab where some node runs FRR.
        let frr = topology.nodes.contains { RoutedLab.runsFRR($0, in: topology) } ? FRRConfig.make(RoutedLab(topology)) : []
        let frrByNode = Dictionary(frr.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        let flaps = Dictionary(grouping: PlannedFlap.all(topology), by: \.end.node)
        let ttl = topology.nodeTTL().ttl
        nodes = topology.nodes.map { node in
            var own = interfaces[node.name] ?? []
            if node.kind == .bridge {
                own.insert(PlannedInterface(name: LabDeployer.bridgeName,
                                            kind: .bridge(stp: node.stp, vlanFiltering: node.vlanFiltering), up: true), at: 0)
            }
            return PlannedNode(
                name: node.name, namespace: topology.namespaceName(of: node.name), kind: node.kind,
                interfaces: own,
                routes: node.routes.map(PlannedRoute.init),
                files: files(node),
                commands: node.commands.map(\.argv),
                frr: frrByNode[node.name],
                flaps: flaps[node.name] ?? [],
                ttl: ttl)
        }
        nodeIndex = Dictionary(nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// A link: its ends here and how they are joined (LinkKinds.swift).
public struct PlannedLink: Sendable, Equatable {
    public var kind: LinkKind
    /// Two for a veth pair, one for a VXLAN tunnel to another machine.
    public var ends: [InterfaceRef]
}

public struct PlannedNode: Sendable {
    public var name: String
    public var namespace: String
    public var kind: NodeKind
    /// Link ends, their 802.1Q sub-interfaces, and a bridge node's br0 (first).
    public var interfaces: [PlannedInterface]
    public var routes: [PlannedRoute]
    /// What the node sees over /etc, by name.
    public var files: [PlannedFile]
    /// Argument vectors, in file order.
    public var commands: [[String]]
    /// The FRR the node runs (a router under `routing: ospf|bgp`, a node with its own `frr:`):
    /// its files and daemons. nil: none.
    public var frr: FRRNodeConfig? = nil
    /// The `flap:` schedules of the links whose first end is on this node (they run there).
    public var flaps: [PlannedFlap] = []
    /// Stopped with `nslab node … stop`: its FRR and flap schedules are left as they are.
    public var stopped = false
    /// What its kernel sends with, TTL and IPv6 hop limit (Topology.nodeTTL); nil: the
    /// kernel's default, 64.
    public var ttl: Int? = nil

    public var forwards: Bool { kind.forwards }

    public func interface(_ name: String) -> PlannedInterface? { interfaces.first { $0.name == name } }
}

public struct PlannedInterface: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case linkEnd(peer: InterfaceRef, link: LinkKind)
        /// An 802.1Q sub-interface on `parent`.
        case vlan(parent: String, id: UInt16)
        /// A bridge node's switch.
        case bridge(stp: Bool, vlanFiltering: Bool)
    }

    public var name: String
    public var kind: Kind
    /// nil: the kernel's default (1500).
    public var mtu: UInt32? = nil
    /// nil: whatever the kernel chose.
    public var mac: [UInt8]? = nil
    public var addresses: [IPPrefix] = []
    public var up: Bool
    public var master: String? = nil
    public var portVLANs: PortVLANs? = nil
    public var impairment: Impairment? = nil
    /// `neighbours: static`: the other end's addresses and its MAC.
    public var permanentNeighbours: [PermanentNeighbour] = []
}

public struct PermanentNeighbour: Sendable, Hashable {
    public var address: IPAddress
    public var mac: [UInt8]
}

/// A route as the kernel keys it: destination and metric in the main table.
public struct PlannedRoute: Sendable, Hashable {
    public var destination: IPPrefix
    public var gateway: IPAddress?
    /// An interface of the same node.
    public var device: String?
    public var metric: UInt32?

    public init(destination: IPPrefix, gateway: IPAddress?, device: String?, metric: UInt32?) {
        self.destination = destination; self.gateway = gateway; self.device = device; self.metric = metric
    }

    /// A topology's route (its destination without host bits, as the kernel keeps it).
    public init(_ route: Route) {
        self.init(destination: route.destination.network, gateway: route.gateway, device: route.device, metric: route.metric)
    }

    /// The metric the kernel gives a route added without one: 0 for IPv4, 1024 for IPv6.
    public var effectiveMetric: UInt32 { metric ?? (destination.family == .ipv6 ? 1024 : 0) }

    /// "10.9.0.0/24 via 172.16.0.2", as `ip route` writes it.
    public var text: String {
        // IPv6's default written as ::/0, so that "default" alone always means IPv4's.
        var words = [destination.length == 0 && destination.family == .ipv4 ? "default" : destination.description]
        if let gateway { words += ["via", gateway.description] }
        if let device { words += ["dev", device] }
        if let metric { words += ["metric", String(metric)] }
        return words.joined(separator: " ")
    }
}

extension PlannedRoute {
    /// `ip route add` of this route, its `dev` looked up in the node's interface `indexes`.
    func request(indexes: [String: Int32]) -> NetlinkMessage {
        RouteRequest.add(RouteInfo(destination: destination, gateway: gateway,
                                   outputIndex: device.flatMap { indexes[$0] }.map(UInt32.init), metric: metric),
                         describedAs: text)
    }
}

/// A link's `flap:` schedule: a background `nslab link LAB END flap …` in the node of the link's
/// first end, recorded as a process of origin "flap" (LinkFlap.swift).
public struct PlannedFlap: Sendable, Equatable {
    public var lab: String
    /// The link's first end, which names the link to `nslab link`.
    public var end: InterfaceRef
    public var schedule: FlapSchedule

    /// Every link's, in file order.
    static func all(_ topology: Topology) -> [PlannedFlap] {
        topology.links.compactMap { link in
            guard let schedule = link.flap, let first = link.endpoints.first else { return nil }
            return PlannedFlap(lab: topology.name, end: InterfaceRef(node: first.node, interface: first.interface), schedule: schedule)
        }
    }

    /// The arguments after the nslab executable: what a recorded flap is compared by.
    var arguments: [String] {
        var argv = ["link", lab, end.description, "flap",
                    "--down-after", "\(schedule.downAfter)", "--down-for", "\(schedule.downFor)", "--times", "\(schedule.times)"]
        if let upFor = schedule.upFor { argv += ["--up-for", "\(upFor)"] }
        return argv
    }

    /// The recorded process runs this link's schedule (this one or another).
    func isOnSameLink(_ process: RecordedProcess) -> Bool {
        process.origin == "flap" && Array(process.command.dropFirst().prefix(4)) == Array(arguments.prefix(4))
    }

    /// The recorded process runs exactly this schedule.
    func isRunBy(_ process: RecordedProcess) -> Bool {
        process.origin == "flap" && Array(process.command.dropFirst()) == arguments
    }
}

public struct PlannedFile: Sendable, Equatable {
    /// Under /etc, e.g. "hosts".
    public var name: String
    public var content: String
}
