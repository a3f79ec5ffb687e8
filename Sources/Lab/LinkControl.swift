import Foundation
import Namespaces
import Netlink
import Topology

/// One end of a link of a deployed lab.
public struct LinkEnd: Sendable, Equatable, Codable {
    public var node: String
    public var interface: String
    public var id: String { "\(node):\(interface)" }
}

/// An end's impairment as the kernel reports it: nil when its root qdisc is not one nslab sets.
public struct EndImpairment: Sendable, Codable {
    public var end: LinkEnd
    /// "netem", "tbf", or the kernel's default ("noqueue" on a veth).
    public var qdisc: String
    public var impairment: Impairment?
}

/// `nslab link`: a link's state and impairments, changed live over netlink in the nodes'
/// namespaces. A link is a veth pair, so it is named by either end.
public enum LinkControl {
    /// The named end first, then its peer (when the peer is in the lab).
    public static func ends(lab: String, target: String) throws -> (network: LabNetwork, ends: [LinkEnd]) {
        let parts = target.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw LabError.refused("name a link by one of its ends, NODE:INTERFACE (e.g. r1:eth0), not \"\(target)\"")
        }
        let network = try LabNetwork.read(lab: lab)
        let node = try network.node(parts[0])
        let links = node.kernel?.links ?? []
        guard let interface = links.first(where: { $0.name == parts[1] }) else {
            let names = links.filter(\.isVeth).map(\.name)
            throw LabError.refused("node \(parts[0]) of lab \(lab) has no interface \(parts[1]) (its links: \(names.joined(separator: ", ")))")
        }
        // A link end: a veth, or a VXLAN end of a link to another machine.
        guard interface.isVeth || interface.interfaceKind == .vxlan else {
            throw LabError.refused("\(target) is not a link end (\(interface.kind ?? "loopback")); name one of the node's veth interfaces")
        }
        var ends = [LinkEnd(node: node.name, interface: interface.name)]
        if let peer = node.peers[interface.name] { ends.append(LinkEnd(node: peer.node, interface: peer.interface)) }
        return (network, ends)
    }

    /// Runs `body` with a socket in the end's node and the end's interface index.
    static func withInterface<T>(_ end: LinkEnd, in network: LabNetwork,
                                 _ body: (NetlinkSocket, Int32) throws -> T) throws -> T {
        let socket = try network.namespace(of: end.node).openSocket()
        guard let index = try socket.links().first(where: { $0.name == end.interface })?.index else {
            throw LabError.refused("interface \(end.id) is gone from lab \(network.lab)")
        }
        do {
            return try body(socket, index)
        } catch let error as NetlinkError {
            throw LabError.kernel(error, node: end.node)
        }
    }

    /// Both ends down (or up): as pulling the cable out and plugging it back in, whichever end
    /// is named. Returns the ends changed.
    @discardableResult
    public static func setState(lab: String, target: String, up: Bool) throws -> [LinkEnd] {
        let (network, ends) = try ends(lab: lab, target: target)
        // Recorded first, so that a later `deploy` keeps the link as it was put (until --reset).
        let record = try LabRecord(lab: lab, create: false)
        try record.append([RecordEntry(event: .linkState, interfaces: ends.map(\.id), up: up)])
        try setState(ends, in: network, up: up)
        return ends
    }

    /// Taking an interface down makes the kernel forget what was configured through it: every
    /// route through it (IPv4 and IPv6), its IPv6 addresses (unless keep_addr_on_down) and its
    /// neighbour entries, permanent ones included. A cable plugged back in should give the lab
    /// back as it was, so bringing an end up puts back, from the lab's topology, the addresses
    /// of the end and of its 802.1Q sub-interfaces, their permanent neighbour entries, and every
    /// route of the node. A route whose gateway is behind another link still down is refused by
    /// the kernel and comes back when that link does (its end is on the same node).
    static func setState(_ ends: [LinkEnd], in network: LabNetwork, up: Bool) throws {
        for end in ends {
            try withInterface(end, in: network) { socket, index in
                try socket.execute(LinkRequest.set(index: index, name: end.interface, up: up))
                if up, let topology = network.topology { try restore(end, topology: topology, socket: socket) }
            }
        }
    }

    private static func restore(_ end: LinkEnd, topology: Topology, socket: NetlinkSocket) throws {
        guard let node = LabPlan(topology).node(end.node), let interface = node.interface(end.interface) else { return }
        let indexes = Dictionary(try socket.links().map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
        // The end itself, then its 802.1Q sub-interfaces (which went down with it).
        let restored = [interface] + node.interfaces.filter {
            if case .vlan(end.interface, _) = $0.kind { return true } else { return false }
        }
        var configuration: [NetlinkMessage] = []
        for interface in restored {
            guard let index = indexes[interface.name] else { continue }
            configuration += interface.addresses.map {
                AddressRequest.add($0, index: UInt32(index), interface: interface.name).replacing()
            }
            configuration += interface.permanentNeighbours.map {
                NeighbourRequest.addPermanent($0.address, linkAddress: $0.mac, index: index, interface: interface.name)
            }
        }
        try socket.execute(configuration)
        let routes = node.routes.map { $0.request(indexes: indexes).replacing() }
        // Every route is attempted; refusals are the routes behind other links still down.
        try? socket.execute(routes)
    }

    /// Merges `change` into what each end has now (read back from the kernel, so a parameter not
    /// named keeps its value) and replaces the end's root qdisc. Both ends unless `onlyThisEnd`.
    @discardableResult
    public static func impair(lab: String, target: String, change: Impairment, onlyThisEnd: Bool) throws -> [EndImpairment] {
        let (network, all) = try ends(lab: lab, target: target)
        let ends = onlyThisEnd ? Array(all.prefix(1)) : all
        return try ends.map { end in
            try withInterface(end, in: network) { socket, index in
                let current = try socket.rootQdiscs().first { $0.index == index }
                let merged = (current.flatMap(ImpairmentQdisc.impairment(of:)) ?? Impairment()).merged(with: change)
                try apply(merged, socket: socket, index: index, end: end, replacing: current)
                return EndImpairment(end: end, qdisc: ImpairmentQdisc.kind(of: merged).rawValue,
                                     impairment: merged)
            }
        }
    }

    /// Sets the root qdisc. Going from netem to tbf (or back) needs the old one removed first:
    /// the kernel replaces a qdisc by one of another kind only through delete and add.
    static func apply(_ impairment: Impairment, socket: NetlinkSocket, index: Int32, end: LinkEnd,
                      replacing current: QdiscInfo?) throws {
        let request = try ImpairmentQdisc.request(impairment, index: index, name: end.interface)
        do {
            if let current, ImpairmentQdisc.impairment(of: current) != nil {
                if current.kind != ImpairmentQdisc.kind(of: impairment).rawValue { try socket.execute(QdiscRequest.deleteRoot(index: index, name: end.interface)) }
            }
            try socket.execute(request)
        } catch let error as NetlinkError {
            throw ImpairmentQdisc.explain(error, impairment: impairment, node: end.node)
        }
    }

    /// Removes the impairment: the interface gets its default qdisc back.
    @discardableResult
    public static func clear(lab: String, target: String, onlyThisEnd: Bool) throws -> [LinkEnd] {
        let (network, all) = try ends(lab: lab, target: target)
        let ends = onlyThisEnd ? Array(all.prefix(1)) : all
        for end in ends {
            try withInterface(end, in: network) { socket, index in
                let current = try socket.rootQdiscs().first { $0.index == index }
                guard let current, ImpairmentQdisc.impairment(of: current) != nil else { return }
                try socket.execute(QdiscRequest.deleteRoot(index: index, name: end.interface))
            }
        }
        return ends
    }

    /// What each end of the link does to what it sends, read from the kernel.
    public static func show(lab: String, target: String) throws -> [EndImpairment] {
        let (network, ends) = try ends(lab: lab, target: target)
        return try ends.map { end in
            try withInterface(end, in: network) { socket, index in
                let current = try socket.rootQdiscs().first { $0.index == index }
                return EndImpairment(end: end, qdisc: current?.kind ?? "none",
                                     impairment: current.flatMap(ImpairmentQdisc.impairment(of:)))
            }
        }
    }

    /// At deploy: the declared impairments, one batch per node.
    static func applyDeclaredImpairments(_ topology: Topology, nodes: [DeployedNode]) throws {
        var perNode: [String: [(endpoint: Endpoint, impairment: Impairment)]] = [:]
        for link in topology.links {
            for (i, endpoint) in link.endpoints.enumerated() {
                if let impairment = link.impairment(of: i), !impairment.isEmpty {
                    perNode[endpoint.node, default: []].append((endpoint, impairment))
                }
            }
        }
        let affected = nodes.filter { perNode[$0.node.name] != nil }
        _ = try LabDeployer.eachNode(affected) { deployed, socket in
            for item in perNode[deployed.node.name] ?? [] {
                guard let index = deployed.interfaceIndexes[item.endpoint.interface] else { continue }
                try apply(item.impairment, socket: socket, index: index,
                          end: LinkEnd(node: item.endpoint.node, interface: item.endpoint.interface), replacing: nil)
            }
        }
    }

    /// At deploy, once every route is in: the links declared `state: down`, both ends down. Last,
    /// because the kernel refuses a route through a link that is down; taking the link down
    /// afterwards leaves the lab as `nslab link … down` would, and `up` puts the routes back.
    static func applyDeclaredDown(_ topology: Topology, nodes: [DeployedNode]) throws {
        var perNode: [String: [Endpoint]] = [:]
        for link in topology.links where link.isDown {
            for endpoint in link.endpoints { perNode[endpoint.node, default: []].append(endpoint) }
        }
        let affected = nodes.filter { perNode[$0.node.name] != nil }
        _ = try LabDeployer.eachNode(affected) { deployed, socket in
            let requests = (perNode[deployed.node.name] ?? []).compactMap { endpoint in
                deployed.interfaceIndexes[endpoint.interface].map { LinkRequest.set(index: $0, name: endpoint.interface, up: false) }
            }
            try socket.execute(requests)
        }
    }
}
