import Foundation
import Lab
import NetAddress
import Netlink
import Topology

/// A lab as the page draws it: its nodes with their interfaces, and its links. Built from
/// `nslab inspect`'s reading of the kernel, then kept current by netlink events.
public struct LabView: Codable, Sendable {
    public var lab: String
    public var file: String?
    public var deployedAt: String?
    public var nodes: [NodeView]
    public var links: [LinkView]
}

public struct NodeView: Codable, Sendable {
    public var name: String
    public var namespace: String
    /// "host", "router" or "bridge".
    public var kind: String
    /// False when the node's namespace is gone.
    public var present: Bool
    /// Stopped with `nslab node … stop`.
    public var stopped: Bool = false
    public var interfaces: [InterfaceView]
    /// The host of a spread lab the node is on; nil: this machine.
    public var host: String? = nil
}

/// An interface as the page shows it; a change to any field is pushed to the page.
public struct InterfaceView: Codable, Sendable, Equatable {
    public var name: String
    public var index: Int32
    /// "veth", "bridge", or nil for lo.
    public var kind: String?
    /// The kernel's operational state: UP, DOWN, LOWERLAYERDOWN, …
    public var state: String
    /// Administratively up (IFF_UP).
    public var up: Bool
    /// Carrier (IFF_LOWER_UP): the other end is up too.
    public var carrier: Bool
    public var mtu: UInt32?
    public var mac: String?
    /// "ADDRESS/LEN", IPv4 first, link-local included.
    public var addresses: [String]
    /// The other end, "node:interface", for a veth whose peer is in the lab.
    public var peer: String?
    /// The bridge this interface is a port of.
    public var master: String?
    /// What the interface does to what it sends, as `nslab link show` writes it ("delay 20ms loss 1%").
    public var impairment: String?
}

/// A veth pair between two nodes of the lab. `id` is its two ends, "node:interface", sorted and
/// joined by "--": the page's `data-link` attribute.
public struct LinkView: Codable, Sendable, Equatable {
    public var id: String
    public var ends: [String]

    public init(_ a: String, _ b: String) {
        ends = [a, b].sorted()
        id = ends.joined(separator: "--")
    }
}

/// A lab's view plus what events need to find their interface: the interface's position by
/// node and kernel index.
struct LiveLab: Sendable {
    var view: LabView
    /// "node:interface" → counters, from the last link message that carried them.
    var counters: [String: LinkCounters] = [:]
    /// Counters as last pushed, so a push carries only what moved.
    var countersSent: [String: LinkCounters] = [:]
    private var positions: [String: [Int32: (node: Int, interface: Int)]] = [:]
    /// The interfaces of nodes on other hosts by "node:interface": their events name them so.
    var remoteInterfaces: [String: (node: Int, interface: Int)] = [:]
    /// Each interface's addresses as prefixes, by position: what address events change.
    private var prefixes: [[[IPPrefix]]] = []

    /// What an event changed.
    enum Change: Equatable {
        case none
        /// One interface changed: push it.
        case interface(node: String, InterfaceView)
        /// Interfaces appeared or went away: read the lab again.
        case structure
    }

    init(_ observed: ObservedLab) {
        var links: [LinkView] = []
        var seen = Set<String>()
        var prefixes: [[[IPPrefix]]] = []
        let nodes = observed.nodes.map { node in
            let kernel = node.kernel
            let addresses = kernel?.addressesByIndex ?? [:]
            let names = kernel?.namesByIndex ?? [:]
            let interfaces = (kernel?.links ?? []).sorted { $0.index < $1.index }
            prefixes.append(interfaces.map { addresses[$0.index] ?? [] })
            return NodeView(name: node.name, namespace: node.namespace, kind: (node.kind ?? .host).rawValue,
                            present: node.present, stopped: node.stopped, interfaces: interfaces.map { link in
                let peer = node.peers[link.name]?.description
                if let peer {
                    let view = LinkView("\(node.name):\(link.name)", peer)
                    if seen.insert(view.id).inserted { links.append(view) }
                }
                return InterfaceView(name: link.name, index: link.index, kind: link.kind, state: link.operationalStateName,
                                     up: link.isUp, carrier: link.hasCarrier, mtu: link.mtu, mac: link.mac.map(formatMAC),
                                     addresses: (addresses[link.index] ?? []).map(\.description), peer: peer,
                                     master: link.master.flatMap { names[$0] },
                                     impairment: kernel?.impairment(of: link.index).map(LiveLab.describe))
            })
        }
        let formatter = ISO8601DateFormatter()
        view = LabView(lab: observed.lab, file: observed.file,
                       deployedAt: observed.deployedAt.map { formatter.string(from: Date(timeIntervalSince1970: $0)) },
                       nodes: nodes, links: links)
        self.prefixes = prefixes
        for (n, node) in nodes.enumerated() {
            for (i, interface) in node.interfaces.enumerated() {
                positions[node.name, default: [:]][interface.index] = (n, i)
            }
        }
    }

    static func describe(_ impairment: Impairment) -> String {
        impairment.isEmpty ? "netem (nothing set)" : impairment.text
    }

    /// Applies one event from `node`'s namespace.
    mutating func apply(_ event: NetlinkEvent, node: String) -> Change {
        switch event {
        case .link(let link):
            if let counters = link.counters { self.counters["\(node):\(link.name)"] = counters }
            return update(node: node, index: link.index) { interface in
                interface.name = link.name
                interface.state = link.operationalStateName
                interface.up = link.isUp
                interface.carrier = link.hasCarrier
                interface.mtu = link.mtu ?? interface.mtu
            }
        case .linkRemoved(let link):
            return positions[node]?[link.index] == nil ? .none : .structure
        case .address(let address), .addressRemoved(let address):
            let added: Bool
            if case .address = event { added = true } else { added = false }
            guard let (n, i) = positions[node]?[Int32(bitPattern: address.index)] else { return .none }
            var prefixes = self.prefixes[n][i].filter { $0 != address.prefix }
            if added { prefixes.append(address.prefix) }
            prefixes.sort { ($0.family == .ipv4 ? 0 : 1, $0) < ($1.family == .ipv4 ? 0 : 1, $1) }
            self.prefixes[n][i] = prefixes
            return update(node: node, index: Int32(bitPattern: address.index), unknownIsStructure: false) { interface in
                interface.addresses = prefixes.map(\.description)
            }
        case .qdisc(let qdisc), .qdiscRemoved(let qdisc):
            guard qdisc.parent == rootQdiscParent else { return .none }
            var impairment: String?
            if case .qdisc = event { impairment = ImpairmentQdisc.impairment(of: qdisc).map(LiveLab.describe) }
            return update(node: node, index: qdisc.index, unknownIsStructure: false) { $0.impairment = impairment }
        case .route, .routeRemoved, .dumpDone, .overrun:
            return .none  // the page draws no routes
        }
    }

    private mutating func update(node: String, index: Int32, unknownIsStructure: Bool = true,
                                 _ change: (inout InterfaceView) -> Void) -> Change {
        guard let (n, i) = positions[node]?[index] else { return unknownIsStructure ? .structure : .none }
        var interface = view.nodes[n].interfaces[i]
        change(&interface)
        guard interface != view.nodes[n].interfaces[i] else { return .none }
        view.nodes[n].interfaces[i] = interface
        return .interface(node: node, interface)
    }

    /// The counters that changed since the last call, and marks them sent.
    mutating func takeChangedCounters() -> [String: LinkCounters] {
        let changed = counters.filter { countersSent[$0.key] != $0.value }
        countersSent.merge(changed) { _, new in new }
        return changed
    }
}
