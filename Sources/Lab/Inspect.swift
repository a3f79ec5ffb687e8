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
    /// A VXLAN end (a link to another machine): its VNI and underlay addresses.
    public var vxlan: TunnelState?

    public struct PeerRef: Codable, Sendable, Equatable {
        public var node: String
        public var interface: String
    }
}

public struct TunnelState: Codable, Sendable, Equatable {
    public var vni: UInt32
    public var local: String?
    public var remote: String?
    public var port: UInt16?

    init(_ info: VXLANInfo) {
        vni = info.vni; local = info.local?.description; remote = info.remote?.description; port = info.port
    }

    /// "vxlan 10000 → 192.0.2.2".
    public var text: String { "vxlan \(vni) → \(remote ?? "?")" }
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
    /// only among those), and asks the FRR of its routers for their protocol neighbours.
    public static func inspect(lab: String, only: Set<String>? = nil) throws -> LabState {
        let (observed, topology) = try ObservedLab.read(deployed: lab, only: only)
        var state = LabState(observed)
        if let topology {
            // The protocol neighbours of the routers that run one, asked of their FRR.
            let stopped = Set(observed.nodes.filter(\.stopped).map(\.name))
            let routers = RoutedLab(topology).nodes.filter {
                !$0.protocols.isEmpty && !stopped.contains($0.name) && (only?.contains($0.name) ?? true)
            }
            let states = RoutingState.read(routers, topology: topology)
            for index in state.nodes.indices { state.nodes[index].routing = states[state.nodes[index].name]?.neighbours }
        }
        return state
    }
}

extension LabState {
    /// The lab as `inspect --json` writes it.
    public init(_ observed: ObservedLab) {
        let formatter = ISO8601DateFormatter()
        self.init(lab: observed.lab, file: observed.file,
                  deployedAt: observed.deployedAt.map { formatter.string(from: Date(timeIntervalSince1970: $0)) },
                  complete: observed.complete, nodes: observed.nodes.map(NodeState.init))
    }
}

extension NodeState {
    init(_ node: ObservedNode) {
        let kernel = node.kernel
        let names = kernel?.namesByIndex ?? [:]
        let addresses = kernel?.addressesByIndex ?? [:]
        let interfaces = (kernel?.links ?? []).sorted { $0.index < $1.index }.map { link -> InterfaceState in
            let port = link.master == nil ? nil : kernel?.bridgePorts.first { $0.index == link.index }
            return InterfaceState(name: link.name, index: link.index, state: link.operationalStateName, up: link.isUp,
                                  carrier: link.hasCarrier, mtu: link.mtu, mac: link.mac.map(formatMAC),
                                  alias: link.alias, kind: link.kind, addresses: (addresses[link.index] ?? []).map(\.description),
                                  peer: node.peers[link.name].map { .init(node: $0.node, interface: $0.interface) },
                                  impairment: kernel?.impairment(of: link.index),
                                  master: link.master.flatMap { names[$0] },
                                  vlan: link.vlanID, parent: link.vlanID == nil ? nil : link.peerIndex.flatMap { names[$0] },
                                  bridge: link.isBridge
                                      ? BridgeState(stp: (link.stpState ?? 0) != 0, vlanFiltering: link.vlanFiltering ?? false) : nil,
                                  vlans: kernel?.filtersVLANs(master: link.master) == true ? port.map { PortVLANState($0.vlans) } : nil,
                                  portState: port?.stateName, vxlan: link.vxlan.map(TunnelState.init))
        }
        let routes = (kernel?.routes ?? []).filter { !$0.destination.address.isMulticast }.map { route in
            RouteState(family: route.family == .ipv4 ? "ipv4" : "ipv6",
                       destination: route.isDefault ? "default" : route.destination.description,
                       gateway: route.gateway?.description,
                       device: route.outputIndex.flatMap { names[Int32($0)] },
                       metric: route.metric, protocol: route.protocolName, scope: route.scopeName,
                       type: route.typeName, source: route.preferredSource?.description)
        }
        let neighbours = (kernel?.neighbours ?? []).filter { !$0.destination.isMulticast }.map { entry in
            NeighbourState(interface: names[entry.index] ?? String(entry.index), address: entry.destination.description,
                           state: entry.stateName, mac: entry.linkAddress.map(formatMAC))
        }
        let formatter = ISO8601DateFormatter()
        let processes = node.recordedProcesses.map { process in
            let running = NodeProcesses.isRunning(process)
            return ProcessState(pid: process.pid, command: process.command, origin: process.origin, log: process.log,
                                startedAt: process.startedAt.map { formatter.string(from: Date(timeIntervalSince1970: $0)) },
                                state: running ? "running" : "exited", running: running)
        }
        let directory = NodeFiles.directory(of: node.namespace)
        self.init(name: node.name, namespace: node.namespace, kind: node.kind?.rawValue, present: node.present,
                  forwarding: .init(ipv4: kernel?.forwardingIPv4, ipv6: kernel?.forwardingIPv6),
                  interfaces: interfaces, routes: routes, hostname: node.hasOwnHostName ? node.name : nil,
                  files: node.fileNames.map { "\(directory)/\($0)" }, processes: processes, neighbours: neighbours,
                  stopped: node.stopped)
    }
}

/// "02:00:0a:01:00:01", as `ip link` writes a MAC.
public func formatMAC(_ bytes: [UInt8]) -> String {
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
    /// A lab spread over hosts: the other hosts it is on (nodes counts them all).
    public var hosts: [String]?

    public static func all() -> [LabListing] {
        let formatter = ISO8601DateFormatter()
        return LabRecord.labs().compactMap { lab in
            guard let summary = try? LabRecord.read(lab: lab).summary else { return nil }
            let spread = SpreadLab.isSpread(lab: lab) ? try? SpreadLab.recorded(lab: lab) : nil
            return LabListing(lab: lab, file: summary.file, nodes: spread?.nodes.count ?? summary.namespaces.count,
                              complete: summary.isComplete,
                              deployedAt: summary.deployedAt.map { formatter.string(from: Date(timeIntervalSince1970: $0)) },
                              hosts: spread.map { $0.hosts.map(\.name) })
        }
    }
}
