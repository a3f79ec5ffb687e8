import Foundation
import NetAddress
import Netlink
import Namespaces
import Routing
import Topology

/// A lab as the kernel has it now. This is the stable `nslab inspect --json` document: fields
/// are only ever added, never renamed or removed (see README, "inspect --json").
public struct LabState: Codable, Sendable {
    public var lab: String
    /// The topology file the lab was deployed from (it may since have changed or gone).
    public var file: String?
    /// ISO 8601, UTC.
    public var deployedAt: String?
    /// False while a deploy is running or after one died half-way.
    public var complete: Bool
    public var nodes: [NodeState]
}

public struct NodeState: Codable, Sendable {
    public var name: String
    public var namespace: String
    /// "host" or "router", from the recorded topology.
    public var kind: String?
    /// False when the namespace is gone (removed by hand?) or is no longer the one nslab made.
    public var present: Bool
    public var forwarding: Forwarding
    public var interfaces: [InterfaceState]
    public var routes: [RouteState]
    /// The node's host name (`hostname` inside `nslab exec`); nil if it has none of its own.
    public var hostname: String?
    /// The per-node /etc files nslab wrote: /etc/netns/NAMESPACE/NAME, bound over /etc/NAME.
    public var files: [String]?
    /// The processes nslab started inside the node (`commands:`, `nslab exec -d`).
    public var processes: [ProcessState]?
    /// The ARP/NDP table (`ip neigh`), read for explain; absent in documents of older versions.
    public var neighbours: [NeighbourState]?
    /// True while `nslab node LAB NODE stop` has it stopped (its interfaces down, nothing running).
    public var stopped: Bool?
    /// For a router running a routing protocol: its neighbours and their states, as FRR says.
    public var routing: [RoutingNeighbour]?

    public struct Forwarding: Codable, Sendable {
        public var ipv4: Bool?
        public var ipv6: Bool?
    }
}

public struct InterfaceState: Codable, Sendable {
    public var name: String
    public var index: Int32
    /// The kernel's operational state: "UP", "DOWN", "LOWERLAYERDOWN", "UNKNOWN" (lo).
    public var state: String
    /// Administratively up (IFF_UP).
    public var up: Bool
    /// Carrier present (IFF_LOWER_UP): the other end is up too.
    public var carrier: Bool
    public var mtu: UInt32?
    public var mac: String?
    /// nslab's ownership tag, "nslab:LAB/NODE".
    public var alias: String?
    /// "veth", or nil for lo.
    public var kind: String?
    /// "ADDRESS/LEN", IPv4 then IPv6, link-local included.
    public var addresses: [String]
    /// The other end of a veth pair, when it is in a namespace of this lab.
    public var peer: PeerRef?
    /// What this interface does to what it sends (its root netem or tbf qdisc), nil for none.
    public var impairment: Impairment?
    /// The bridge this interface is a port of (`ip link show master BRIDGE`), if any.
    public var master: String?
    /// An 802.1Q sub-interface's VLAN id and the interface it is on (`ip -d link`: vlan id 10, eth0.10@eth0).
    public var vlan: UInt16?
    public var parent: String?
    /// A bridge: its spanning tree and VLAN filtering (`ip -d link show br0`).
    public var bridge: BridgeState?
    /// A port of a VLAN-filtering bridge: its VLANs (`bridge vlan show`).
    public var vlans: PortVLANState?
    /// A bridge port's spanning tree state (`bridge link show`): "forwarding" (always, with STP
    /// off, once up), or "listening", "learning", "blocking", "disabled".
    public var portState: String?

    public struct PeerRef: Codable, Sendable, Equatable {
        public var node: String
        public var interface: String
    }
}

public struct BridgeState: Codable, Sendable, Equatable {
    public var stp: Bool
    public var vlanFiltering: Bool
}

/// A bridge port's VLANs as `bridge vlan show` lists them.
public struct PortVLANState: Codable, Sendable, Equatable {
    /// The VLAN untagged frames arriving on the port are put in.
    public var pvid: UInt16?
    /// VLANs that leave the port without their tag.
    public var untagged: [UInt16]
    /// VLANs that leave the port tagged.
    public var tagged: [UInt16]

    init(_ vlans: [BridgeVLAN]) {
        pvid = vlans.first(where: \.pvid)?.vid
        untagged = vlans.filter(\.untagged).map(\.vid)
        tagged = vlans.filter { !$0.untagged }.map(\.vid)
    }

    /// As the topology writes it when it can: "access 10", "trunk 10,20 native 1"; else the flags.
    public var text: String {
        if let pvid, untagged == [pvid] { return PortVLANs(untagged: pvid, tagged: tagged).text }
        if pvid == nil, untagged.isEmpty, !tagged.isEmpty { return PortVLANs(untagged: nil, tagged: tagged).text }
        if pvid == nil, untagged.isEmpty, tagged.isEmpty { return "no vlans" }
        let list = { (vids: [UInt16]) in vids.map(String.init).joined(separator: ",") }
        return "pvid \(pvid.map(String.init) ?? "-") untagged \(list(untagged)) tagged \(list(tagged))"
    }
}

public struct RouteState: Codable, Sendable {
    public var family: String
    /// "default" or "PREFIX/LEN".
    public var destination: String
    public var gateway: String?
    public var device: String?
    public var metric: UInt32?
    /// "kernel" for connected routes, "boot" for routes nslab (or `ip route add`) added.
    public var `protocol`: String
    public var scope: String
    /// "blackhole", "unreachable", "prohibit"; absent for ordinary (unicast) routes.
    public var type: String?
    /// The preferred source address (`src` in `ip route`), when the route sets one.
    public var source: String?
}

public struct NeighbourState: Codable, Sendable {
    public var interface: String
    public var address: String
    /// As `ip neigh` prints it: REACHABLE, STALE, DELAY, PROBE, FAILED, INCOMPLETE, PERMANENT, …
    public var state: String
    public var mac: String?
}

public enum LabInspector {
    /// Reads every node of the lab, or only the nodes named in `only` (peers are then found
    /// only among those).
    public static func inspect(lab: String, only: Set<String>? = nil) throws -> LabState {
        try read(lab: lab, only: only).state
    }

    /// The state and the recorded topology it was read with, parsed once (LabNetwork parsed it a
    /// second time while holding the state: 10,000 nodes' verify peaked there).
    static func read(lab: String, only: Set<String>? = nil) throws -> (state: LabState, topology: Topology?) {
        var (summary, text) = try LabRecord.read(lab: lab)
        if let only { summary.namespaces = summary.namespaces.filter { only.contains($0.node) } }
        try Privileges.check(for: "read a lab's namespaces")
        let topology: Topology? = text.flatMap { try? Topology.parse(yaml: $0, file: summary.file ?? "topology.yaml") }

        struct Raw {
            var links: [LinkInfo] = []
            var addresses: [AddressInfo] = []
            var routes: [RouteInfo] = []
            var neighbours: [NeighbourInfo] = []
            var qdiscs: [QdiscInfo] = []
            var bridgePorts: [BridgePort] = []
            var forwarding: (ipv4: Bool?, ipv6: Bool?) = (nil, nil)
            var present = false
        }
        let raws: [Raw] = try NamespaceThread.forEach(summary.namespaces, threads: 2) { entry in
            guard let recorded = summary.inodes[entry.name] else { return Raw() }
            let namespace: NetworkNamespace
            do {
                namespace = try NetworkNamespace.open(entry.name)
            } catch let error as NamespaceError {
                // Gone (or never made) is a node not present; failing to open one that is there,
                // out of open files (EMFILE), is an error: it used to show every node as removed.
                if case .system = error { throw LabError.namespace(error) }
                return Raw()
            }
            guard namespace.inode == recorded else { return Raw() }
            try namespace.enter()  // this worker thread is ours and exits when the lab is read
            let socket = try NetlinkSocket(acceptingInterruptedDumps: true)
            let links = try socket.links()
            return Raw(links: links, addresses: try socket.addresses(), routes: try socket.routes(),
                       neighbours: try socket.neighbours(), qdiscs: try socket.rootQdiscs(),
                       bridgePorts: links.contains { $0.kind == "bridge" } ? try socket.bridgePorts() : [],
                       forwarding: (try socket.forwarding(family: AF_INET), try socket.forwarding(family: AF_INET6)),
                       present: true)
        }

        // A veth reports its peer's index (IFLA_LINK); the peer is the interface with that index
        // whose own peer index points back. Several can match; the topology breaks ties.
        var byIndexPair: [String: [(node: String, interface: String)]] = [:]
        for (entry, raw) in zip(summary.namespaces, raws) {
            for link in raw.links where link.kind == "veth" {
                byIndexPair["\(link.index)>\(link.peerIndex ?? 0)", default: []].append((entry.node, link.name))
            }
        }
        let declaredPeers: [String: String] = Dictionary(
            (topology?.links ?? []).flatMap { link -> [(String, String)] in
                guard link.endpoints.count == 2 else { return [] }
                return [(link.endpoints[0].id, link.endpoints[1].id), (link.endpoints[1].id, link.endpoints[0].id)]
            }, uniquingKeysWith: { first, _ in first })

        var nodes: [NodeState] = []
        for (entry, raw) in zip(summary.namespaces, raws) {
            let names = Dictionary(raw.links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
            let interfaces = raw.links.sorted { $0.index < $1.index }.map { link -> InterfaceState in
                let port = link.master == nil ? nil : raw.bridgePorts.first { $0.index == link.index }
                var peer: InterfaceState.PeerRef?
                if link.kind == "veth", let peerIndex = link.peerIndex {
                    let candidates = byIndexPair["\(peerIndex)>\(link.index)"] ?? []
                    let declared = declaredPeers["\(entry.node):\(link.name)"]
                    if let match = candidates.first(where: { "\($0.node):\($0.interface)" == declared }) ?? candidates.first {
                        peer = .init(node: match.node, interface: match.interface)
                    }
                }
                let addresses = raw.addresses.filter { $0.index == UInt32(link.index) }
                    .sorted { ($0.family == .ipv4 ? 0 : 1, $0.prefix) < ($1.family == .ipv4 ? 0 : 1, $1.prefix) }
                    .map(\.prefix.description)
                return InterfaceState(name: link.name, index: link.index, state: link.operationalStateName, up: link.isUp,
                                      carrier: link.hasCarrier, mtu: link.mtu, mac: link.mac.map(formatMAC),
                                      alias: link.alias, kind: link.kind, addresses: addresses, peer: peer,
                                      impairment: raw.qdiscs.first { $0.index == link.index }
                                          .flatMap(ImpairmentQdisc.impairment(of:)),
                                      master: link.master.flatMap { names[$0] },
                                      vlan: link.vlanID, parent: link.vlanID == nil ? nil : link.peerIndex.flatMap { names[$0] },
                                      bridge: link.kind == "bridge"
                                          ? BridgeState(stp: (link.stpState ?? 0) != 0, vlanFiltering: link.vlanFiltering ?? false) : nil,
                                      vlans: vlanFiltering(of: link.master, in: raw.links) ? port.map { PortVLANState($0.vlans) } : nil,
                                      portState: port?.stateName)
            }
            let routes = raw.routes.filter { !$0.destination.address.isMulticast }.map { route in
                RouteState(family: route.family == .ipv4 ? "ipv4" : "ipv6",
                           destination: route.isDefault ? "default" : route.destination.description,
                           gateway: route.gateway?.description,
                           device: route.outputIndex.flatMap { names[Int32($0)] },
                           metric: route.metric, protocol: route.protocolName, scope: route.scopeName,
                           type: route.typeName, source: route.preferredSource?.description)
            }
            let neighbours = raw.neighbours.filter { !$0.destination.isMulticast }.map { entry in
                NeighbourState(interface: names[entry.index] ?? String(entry.index), address: entry.destination.description,
                               state: entry.stateName, mac: entry.linkAddress.map(formatMAC))
            }
            nodes.append(NodeState(name: entry.node, namespace: entry.name,
                                   kind: topology?.node(named: entry.node)?.kind.rawValue, present: raw.present,
                                   forwarding: .init(ipv4: raw.forwarding.ipv4, ipv6: raw.forwarding.ipv6),
                                   interfaces: interfaces, routes: routes, neighbours: neighbours,
                                   stopped: summary.stoppedNodes.contains(entry.node)))
        }
        nodes = NodeEnvironment.annotate(nodes, lab: lab)
        if let topology {
            // The protocol neighbours of the routers that run one, asked of their FRR.
            let routers = RoutedLab(topology).nodes.filter {
                !$0.protocols.isEmpty && !summary.stoppedNodes.contains($0.name) && (only?.contains($0.name) ?? true)
            }
            let states = RoutingState.read(routers, topology: topology)
            for index in nodes.indices { nodes[index].routing = states[nodes[index].name]?.neighbours }
        }
        let formatter = ISO8601DateFormatter()
        return (LabState(lab: lab, file: summary.file,
                         deployedAt: summary.deployedAt.map { formatter.string(from: Date(timeIntervalSince1970: $0)) },
                         complete: summary.isComplete, nodes: nodes), topology)
    }
}

/// Whether the bridge with index `master` filters by VLAN (only then do its ports' VLANs matter).
private func vlanFiltering(of master: Int32?, in links: [LinkInfo]) -> Bool {
    guard let master else { return false }
    return links.first { $0.index == master }?.vlanFiltering == true
}

func formatMAC(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let hex = String(byte, radix: 16)
        return hex.count == 1 ? "0" + hex : hex
    }.joined(separator: ":")
}

/// One deployed lab, as `nslab list` shows it.
public struct LabListing: Codable, Sendable {
    public var lab: String
    public var file: String?
    public var nodes: Int
    public var complete: Bool
    public var deployedAt: String?

    public static func all() -> [LabListing] {
        let formatter = ISO8601DateFormatter()
        return LabRecord.labs().compactMap { lab in
            guard let summary = try? LabRecord.read(lab: lab).summary else { return nil }
            return LabListing(lab: lab, file: summary.file, nodes: summary.namespaces.count, complete: summary.isComplete,
                              deployedAt: summary.deployedAt.map { formatter.string(from: Date(timeIntervalSince1970: $0)) })
        }
    }
}
