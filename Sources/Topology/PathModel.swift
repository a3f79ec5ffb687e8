import NetAddress

// The routing model `nslab explain` and `nslab verify` walk: nodes, interfaces, routes,
// forwarding and neighbour entries as plain values, and a walk that follows a packet hop by hop
// the way the kernel would. Pure: Lab fills it from the live kernel state; tests build it by hand.

/// "node:interface".
public struct InterfaceRef: Hashable, Sendable, Codable, CustomStringConvertible {
    public var node: String
    public var interface: String

    public init(node: String, interface: String) { self.node = node; self.interface = interface }

    public var description: String { "\(node):\(interface)" }
}

public struct ModelInterface: Sendable {
    public var name: String
    /// Administratively up (IFF_UP).
    public var up: Bool
    /// IFF_LOWER_UP: for a veth, the other end is up too.
    public var carrier: Bool
    public var addresses: [IPPrefix]
    /// The other end of the veth pair, when it is in a node of the model.
    public var peer: InterfaceRef?
    /// An 802.1Q sub-interface: its VLAN and the interface it sends on (tagged).
    public var vlan: UInt16?
    public var parent: String?
    /// A port of a VLAN-filtering switch: its VLANs.
    public var portVLANs: PortVLANs?
    /// A switch port's spanning tree state, when it is not "forwarding" ("listening", "learning",
    /// "blocking", "disabled"): frames do not cross it.
    public var portState: String?
    /// A VXLAN end of a lab spread over hosts: the host across it (its far side is not in the model).
    public var otherHost: String?

    public init(name: String, up: Bool = true, carrier: Bool = true, addresses: [IPPrefix] = [], peer: InterfaceRef? = nil,
                vlan: UInt16? = nil, parent: String? = nil, portVLANs: PortVLANs? = nil, portState: String? = nil) {
        self.name = name; self.up = up; self.carrier = carrier; self.addresses = addresses; self.peer = peer
        self.vlan = vlan; self.parent = parent; self.portVLANs = portVLANs; self.portState = portState
    }

    /// Carries frames: up, and not a switch port that is not forwarding.
    var passesFrames: Bool { up && portState == nil }
}

public struct ModelRoute: Sendable {
    public enum Kind: String, Sendable, Codable {
        case unicast, blackhole, unreachable, prohibit
    }
    public var destination: IPPrefix
    public var gateway: IPAddress?
    public var device: String?
    /// The kernel's priority: lower wins among routes of the same prefix length.
    public var metric: UInt32
    public var preferredSource: IPAddress?
    public var kind: Kind
    /// Who installed it, as `ip route` names it, when a routing daemon did ("ospf", "bgp"):
    /// explain says which protocol a path follows.
    public var protocolName: String?

    public init(_ destination: IPPrefix, via gateway: IPAddress? = nil, dev device: String? = nil, metric: UInt32 = 0,
                source: IPAddress? = nil, kind: Kind = .unicast, protocolName: String? = nil) {
        self.destination = destination; self.gateway = gateway; self.device = device; self.metric = metric
        self.preferredSource = source; self.kind = kind; self.protocolName = protocolName
    }

    /// As `ip route` prints it.
    public var text: String {
        var words: [String] = kind == .unicast ? [] : [kind.rawValue]
        words.append(destination.length == 0 ? "default" : destination.network.description)
        if let gateway { words += ["via", gateway.description] }
        if let device { words += ["dev", device] }
        if let preferredSource { words += ["src", preferredSource.description] }
        if let protocolName { words += ["proto", protocolName] }
        if metric != 0 { words += ["metric", String(metric)] }
        return words.joined(separator: " ")
    }
}

public struct ModelNeighbour: Sendable {
    public var interface: String
    public var address: IPAddress
    /// As `ip neigh` prints it: REACHABLE, STALE, FAILED, …, for the explanation's words.
    public var state: String
    /// The kernel gave up resolving it (NUD_FAILED).
    public var isFailed: Bool

    public init(interface: String, address: IPAddress, state: String, isFailed: Bool) {
        self.interface = interface; self.address = address; self.state = state; self.isFailed = isFailed
    }
}

public struct ModelNode: Sendable {
    public var name: String
    public var forwardsIPv4: Bool
    public var forwardsIPv6: Bool
    public var interfaces: [ModelInterface] { didSet { indexInterfaces() } }
    /// The main table as the kernel has it now (connected routes included).
    public var routes: [ModelRoute] { didSet { routeTable = RouteTable(routes) } }
    public var neighbours: [ModelNeighbour]
    /// Routes the topology file declares: only used to say why a route the kernel lacks is gone.
    public var declaredRoutes: [ModelRoute]
    /// A switch (a `bridge` node): frames entering one of its ports leave by the others, so the
    /// nodes across all its ports share one segment (one per VLAN when it filters by VLAN).
    public var isSwitch: Bool
    public var vlanFiltering: Bool
    /// What its kernel sends with, an echo reply among others: net.ipv4.ip_default_ttl and
    /// IPv6's hop limit.
    public var defaultTTL = PacketTTL.kernelDefault
    public var defaultHopLimit = PacketTTL.kernelDefault

    // Lookups by dictionary, kept in step with `interfaces` and `routes`: the hub of a 1,000-leaf
    // star has 1,000 interfaces and routes, and every walk through it searched them one by one.
    /// Interface name → position in `interfaces` (the first, as the searches found it).
    private var interfacePositions: [String: Int] = [:]
    /// Address → position of the first interface holding it.
    private var addressPositions: [IPAddress: Int] = [:]
    private var routeTable = RouteTable([])

    public init(name: String, forwardsIPv4: Bool = false, forwardsIPv6: Bool = false, interfaces: [ModelInterface] = [],
                routes: [ModelRoute] = [], neighbours: [ModelNeighbour] = [], declaredRoutes: [ModelRoute] = [],
                isSwitch: Bool = false, vlanFiltering: Bool = false) {
        self.name = name; self.forwardsIPv4 = forwardsIPv4; self.forwardsIPv6 = forwardsIPv6
        self.interfaces = interfaces; self.routes = routes; self.neighbours = neighbours; self.declaredRoutes = declaredRoutes
        self.isSwitch = isSwitch; self.vlanFiltering = vlanFiltering
        indexInterfaces()
        routeTable = RouteTable(routes)
    }

    private mutating func indexInterfaces() {
        interfacePositions = [:]
        addressPositions = [:]
        for (position, interface) in interfaces.enumerated() {
            if interfacePositions[interface.name] == nil { interfacePositions[interface.name] = position }
            for prefix in interface.addresses where addressPositions[prefix.address] == nil {
                addressPositions[prefix.address] = position
            }
        }
    }

    public func interface(named name: String) -> ModelInterface? { interfacePositions[name].map { interfaces[$0] } }

    func forwards(_ family: IPAddress.Family) -> Bool { family == .ipv4 ? forwardsIPv4 : forwardsIPv6 }

    /// The interface holding `address`, if this node has it.
    public func owner(of address: IPAddress) -> ModelInterface? { addressPositions[address].map { interfaces[$0] } }

    /// Longest prefix match, then the lowest metric, as the kernel's FIB lookup in the main table.
    public func lookup(_ destination: IPAddress) -> ModelRoute? { routeTable.lookup(destination, in: routes) }

    /// The source address the kernel would put on a packet sent with `route` towards `destination`:
    /// the route's `src`, else an address of the outgoing interface (one on the next hop's subnet
    /// first), else any global address of the node.
    public func sourceAddress(for route: ModelRoute, to destination: IPAddress) -> IPAddress? {
        if let preferred = route.preferredSource { return preferred }
        let family = destination.family
        let usable = { (prefix: IPPrefix) in prefix.family == family && !prefix.address.isLinkLocalV6 && !prefix.address.isLoopback }
        let nextHop = route.gateway ?? destination
        if let device = route.device.flatMap(interface(named:)) {
            let own = device.addresses.filter(usable)
            if let onSubnet = own.first(where: { $0.contains(nextHop) }) { return onSubnet.address }
            if let first = own.first { return first.address }
        }
        return interfaces.flatMap(\.addresses).first(where: usable)?.address
    }
}

/// A node's routes by prefix length and network, for longest-prefix match in as many dictionary
/// lookups as there are lengths in use (a handful) rather than a scan of every route.
struct RouteTable: Sendable {
    /// Per family, the lengths in use, longest first.
    private var lengths: [IPAddress.Family: [Int]] = [:]
    /// (length, network) → positions in the node's routes, in table order.
    private var positions: [Key: [Int]] = [:]

    private struct Key: Hashable, Sendable {
        var length: Int
        var network: IPAddress
    }

    init(_ routes: [ModelRoute]) {
        for (position, route) in routes.enumerated() {
            let length = route.destination.length
            positions[Key(length: length, network: route.destination.address.masked(to: length)), default: []].append(position)
        }
        for key in positions.keys { lengths[key.network.family, default: []].append(key.length) }
        for family in lengths.keys { lengths[family] = Array(Set(lengths[family] ?? [])).sorted(by: >) }
    }

    /// The route the kernel would take: longest prefix, then lowest metric, then the first listed.
    func lookup(_ destination: IPAddress, in routes: [ModelRoute]) -> ModelRoute? {
        for length in lengths[destination.family] ?? [] {
            guard let candidates = positions[Key(length: length, network: destination.masked(to: length))] else { continue }
            var best = candidates[0]
            for position in candidates.dropFirst() where routes[position].metric < routes[best].metric { best = position }
            return routes[best]
        }
        return nil
    }
}

/// Why a packet stops.
public enum PathCause: String, Sendable, Codable {
    case noRoute = "no-route"
    case rejectRoute = "reject-route"
    case forwardingOff = "forwarding-off"
    case linkDown = "link-down"
    case noCarrier = "no-carrier"
    case notConnected = "not-connected"
    case gatewayNotConnected = "gateway-not-connected"
    case gatewayUnreachable = "gateway-unreachable"
    case addressMissing = "address-missing"
    case noSourceAddress = "no-source-address"
    case loop = "routing-loop"
    case portNotForwarding = "port-not-forwarding"
    case unknownNode = "unknown-node"
    /// The packet leaves this machine by a VXLAN link of a lab spread over hosts: the rest of its
    /// path is on another machine, which this one does not read.
    case otherHost = "other-host"
    /// The path has more hops than the TTL (IPv6: hop limit) the packet left with: a router
    /// drops it (ICMP time exceeded) rather than forward it with TTL 0.
    case ttlExceeded = "ttl-exceeded"
}

/// The TTL (IPv6: hop limit) a packet leaves its node with, and where it comes from, for the
/// explanation. A packet with TTL t crosses at most t links: each router it passes takes one
/// off and drops a packet that arrives with 1.
public struct PacketTTL: Sendable {
    public var value: Int
    /// "the probe's", "the reply's: the kernel's default, net.ipv4.ip_default_ttl".
    public var origin: String

    public init(_ value: Int, origin: String) { self.value = value; self.origin = origin }

    /// What the kernel sends with unless told otherwise (net.ipv4.ip_default_ttl,
    /// net.ipv6.conf.*.hop_limit), and what a node answers an echo with.
    public static let kernelDefault = 64

    /// An echo reply: sent by the kernel of the node that was pinged, with that node's default.
    public static func reply(_ family: IPAddress.Family, from node: ModelNode?) -> PacketTTL {
        let value = (family == .ipv4 ? node?.defaultTTL : node?.defaultHopLimit) ?? kernelDefault
        let key = family == .ipv4 ? "net.ipv4.ip_default_ttl" : "net.ipv6.conf.*.hop_limit"
        return PacketTTL(value, origin: value == kernelDefault ? "the reply's: the kernel's default, \(key)"
                                                               : "the reply's: \(key) of \(node?.name ?? "?")")
    }

    /// "TTL", or "hop limit" for IPv6.
    static func word(_ family: IPAddress.Family) -> String { family == .ipv4 ? "TTL" : "hop limit" }
}

public struct PathProblem: Sendable, Codable, CustomStringConvertible {
    /// The node where the packet stops.
    public var node: String
    public var cause: PathCause
    /// One sentence saying what is wrong there, in the user's terms.
    public var detail: String

    public var description: String { detail }
}

/// One node the packet passes.
public struct PathHop: Sendable, Codable {
    public var node: String
    /// Where the packet came in (nil at the source).
    public var inInterface: String?
    /// Where it goes out (nil where it is delivered or stops).
    public var outInterface: String?
    /// The route used, as `ip route` prints it.
    public var route: String?
    public var nextHop: String?
}

public struct PathWalk: Sendable, Encodable {
    public var from: String
    public var source: IPAddress?
    public var destination: IPAddress
    public var hops: [PathHop]
    /// Where the packet arrives, or nil when it stops.
    public var deliveredTo: InterfaceRef?
    public var problem: PathProblem?

    public var delivered: Bool { deliveredTo != nil }

    /// Nodes between the source and the node it is delivered to, in order.
    public var intermediateNodes: [String] { Array(hops.dropFirst().dropLast().map(\.node)) }

    private enum CodingKeys: String, CodingKey { case from, source, destination, hops, deliveredTo, problem }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encodeIfPresent(source?.description, forKey: .source)
        try container.encode(destination.description, forKey: .destination)
        try container.encode(hops, forKey: .hops)
        try container.encodeIfPresent(deliveredTo, forKey: .deliveredTo)
        try container.encodeIfPresent(problem, forKey: .problem)
    }
}

/// Both directions of an echo: the request to the destination, the reply back to the source.
public struct PathExplanation: Sendable, Encodable {
    public enum Direction: String, Sendable, Codable { case forward, reply }
    public var forward: PathWalk
    public var reply: PathWalk?
    public var reaches: Bool { forward.delivered && reply?.delivered == true }
    /// The first break, and in which direction.
    public var brokenDirection: Direction? {
        if !forward.delivered { return .forward }
        if reply?.delivered == false { return .reply }
        return nil
    }
    public var problem: PathProblem? { forward.problem ?? reply?.problem }

    private enum CodingKeys: String, CodingKey { case reaches, brokenDirection, problem, forward, reply }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reaches, forKey: .reaches)
        try container.encodeIfPresent(brokenDirection, forKey: .brokenDirection)
        try container.encodeIfPresent(problem, forKey: .problem)
        try container.encode(forward, forKey: .forward)
        try container.encodeIfPresent(reply, forKey: .reply)
    }

    /// One line: "ns01 → 10.0.0.1: reply path breaks at router02: no route to 192.168.0.1 …".
    public var summary: String {
        let head = "\(forward.from) → \(forward.destination)"
        switch brokenDirection {
        case nil:
            return "\(head): reachable (forward \(forward.hops.map(\.node).joined(separator: " → ")), reply \(reply?.hops.map(\.node).joined(separator: " → ") ?? "-"))"
        case .forward?:
            return "\(head): forward path breaks at \(forward.problem?.node ?? "?"): \(forward.problem?.detail ?? "?")"
        case .reply?:
            return "\(head): forward path works, reply path breaks at \(reply?.problem?.node ?? "?"): \(reply?.problem?.detail ?? "?")"
        }
    }
}

public struct NetworkModel: Sendable {
    public var nodes: [ModelNode] { didSet { indexNodes() } }
    /// The addresses the topology file gives each interface: to say which address is missing,
    /// and which subnet a downed interface (whose IPv6 addresses the kernel removed) was on.
    public var declaredAddresses: [InterfaceRef: [IPPrefix]] { didSet { indexDeclaredAddresses() } }

    /// Marks `end` as a link to another host (a spread lab's VXLAN end).
    public mutating func markOtherHost(_ end: InterfaceRef, host: String) {
        guard let position = positions[end.node],
              let index = nodes[position].interfaces.firstIndex(where: { $0.name == end.interface }) else { return }
        nodes[position].interfaces[index].otherHost = host
    }

    // Built once, when the nodes are set (and again whenever they change), not per walk: verify
    // explains every failed probe, and a walk that rebuilt layer 2 and searched the nodes by name
    // cost O(nodes²) each — more than 15 minutes for a 1,000-leaf star whose probes all failed.
    /// Node name → position in `nodes`.
    private var positions: [String: Int] = [:]
    /// Address → the node and interface holding it now (the first in node order).
    private var owners: [IPAddress: InterfaceRef] = [:]
    private var declaredOwners: [IPAddress: InterfaceRef] = [:]
    /// The cables, switches and sub-interfaces frames cross.
    private(set) var layer2 = Layer2()

    public init(nodes: [ModelNode], declaredAddresses: [InterfaceRef: [IPPrefix]] = [:]) {
        self.nodes = nodes; self.declaredAddresses = declaredAddresses
        indexNodes()
        indexDeclaredAddresses()
    }

    private mutating func indexNodes() {
        positions = [:]
        owners = [:]
        for (position, node) in nodes.enumerated() {
            if positions[node.name] == nil { positions[node.name] = position }
            for interface in node.interfaces {
                for prefix in interface.addresses where owners[prefix.address] == nil {
                    owners[prefix.address] = InterfaceRef(node: node.name, interface: interface.name)
                }
            }
        }
        layer2 = makeLayer2()
    }

    private mutating func indexDeclaredAddresses() {
        declaredOwners = [:]
        for (interface, prefixes) in declaredAddresses {
            for prefix in prefixes where declaredOwners[prefix.address] == nil { declaredOwners[prefix.address] = interface }
        }
    }

    func declaredOwner(of address: IPAddress) -> InterfaceRef? { declaredOwners[address] }

    public func node(named name: String) -> ModelNode? { positions[name].map { nodes[$0] } }

    /// The node and interface that hold `address` now.
    public func owner(of address: IPAddress) -> InterfaceRef? { owners[address] }

    /// An echo request from `source` to `destination` and its reply, walked through the model.
    /// `ttl`: the request's (ping's and the kernel's default, 64, unless the prober sets another);
    /// the reply leaves with the kernel's default of the node that answers.
    public func explain(from source: String, to destination: IPAddress, sourceAddress: IPAddress? = nil,
                        ttl: Int = PacketTTL.kernelDefault) -> PathExplanation {
        let forward = walk(from: source, to: destination, sourceAddress: sourceAddress,
                           ttl: PacketTTL(ttl, origin: "the probe's"))
        guard let arrived = forward.deliveredTo, let replyTo = forward.source else {
            return PathExplanation(forward: forward, reply: nil)
        }
        // The reply leaves from the address that was pinged, towards the request's source.
        let reply = walk(from: arrived.node, to: replyTo, sourceAddress: destination, ttl: .reply(destination.family, from: node(named: arrived.node)))
        return PathExplanation(forward: forward, reply: reply)
    }

    /// Follows one packet from node `start` to `destination` as the kernel would forward it;
    /// with a `ttl`, it stops where the TTL runs out.
    public func walk(from start: String, to destination: IPAddress, sourceAddress: IPAddress? = nil,
                     ttl: PacketTTL? = nil) -> PathWalk {
        var result = PathWalk(from: start, source: sourceAddress, destination: destination, hops: [])
        func stop(_ node: String, _ cause: PathCause, _ detail: String) -> PathWalk {
            result.problem = PathProblem(node: node, cause: cause, detail: detail)
            return result
        }
        var current = start
        var cameIn: String?
        // In order for the loop's message, and as a set: a 100×100 grid's paths are 198 hops.
        var visited: [String] = []
        var seen: Set<String> = []
        while true {
            guard let node = node(named: current) else {
                return stop(current, .unknownNode, "\(current) is not a node of this lab")
            }
            if seen.contains(current) {
                return stop(current, .loop, "routing loop: the packet comes back to \(current) (\((visited + [current]).joined(separator: " → ")))")
            }
            visited.append(current)
            seen.insert(current)
            var hop = PathHop(node: current, inInterface: cameIn)
            // Weak host model (Linux, both families): a node accepts a packet for any of its addresses.
            if let local = node.owner(of: destination) {
                result.hops.append(hop)
                result.deliveredTo = InterfaceRef(node: current, interface: local.name)
                if current == start, result.source == nil { result.source = destination }
                return result
            }
            if current != start, !node.forwards(destination.family) {
                result.hops.append(hop)
                let key = destination.family == .ipv4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding"
                return stop(current, .forwardingOff,
                            "forwarding is off on \(current) (\(key) = 0): it drops the packet to \(destination) that came in on \(cameIn ?? "?")")
            }
            guard let route = node.lookup(destination) else {
                result.hops.append(hop)
                let (cause, detail) = noRouteProblem(node, destination)
                return stop(current, cause, detail)
            }
            hop.route = route.text
            if route.kind != .unicast {
                result.hops.append(hop)
                return stop(current, .rejectRoute, "\(current) has a \(route.kind.rawValue) route for \(destination): \(route.text)")
            }
            // Links crossed to get here; a router forwards only a packet that arrives with TTL 2
            // or more, that is, one that has crossed fewer links than its TTL.
            if let ttl, current != start, visited.count - 1 >= ttl.value {
                result.hops.append(hop)
                return stop(current, .ttlExceeded, ttlExceeded(from: start, at: current, after: visited.count - 1, to: destination,
                                                               ttl: ttl))
            }
            if current == start {
                if let chosen = result.source {
                    if node.owner(of: chosen) == nil {
                        result.hops.append(hop)
                        return stop(current, .noSourceAddress, "\(chosen) is not an address of \(current)")
                    }
                } else if let chosen = node.sourceAddress(for: route, to: destination) {
                    result.source = chosen
                } else {
                    result.hops.append(hop)
                    return stop(current, .noSourceAddress, "\(current) has no \(destination.family) address to send from")
                }
            }
            guard let deviceName = route.device, let device = node.interface(named: deviceName) else {
                result.hops.append(hop)
                return stop(current, .noRoute, "\(current)'s route \(route.text) names no interface it has")
            }
            hop.outInterface = deviceName
            let nextHop = route.gateway ?? destination
            hop.nextHop = nextHop.description
            result.hops.append(hop)
            let place = "\(current):\(deviceName)"
            guard device.up else {
                return stop(current, .linkDown, "\(place) is down (ip link set dev \(deviceName) up)")
            }
            // The cable the frame leaves by: the interface's own, or a sub-interface's parent's.
            let wire = device.parent.flatMap(node.interface(named:)) ?? device
            guard wire.up else {
                return stop(current, .linkDown, "\(current):\(wire.name), which \(deviceName) sends on, is down (ip link set dev \(wire.name) up)")
            }
            if let host = wire.otherHost {
                return stop(current, .otherHost, "\(place) is a link to host \(host): the rest of the path is there")
            }
            guard let peer = wire.peer, let peerNode = self.node(named: peer.node),
                  let peerInterface = peerNode.interface(named: peer.interface) else {
                return stop(current, .notConnected, "\(place) is not connected to another node of the lab")
            }
            guard wire.carrier, peerInterface.up else {
                return stop(current, .noCarrier, "\(place) has no carrier: the other end, \(peer), is down (ip -n \(peer.node) link set dev \(peer.interface) up)")
            }
            if let state = peerInterface.portState, !peerInterface.passesFrames {
                return stop(current, .portNotForwarding,
                            "\(peer), the switch port across \(place), is \(state), not forwarding: with spanning tree on, a port "
                            + "forwards only after listening and learning (2 × forward delay, 30 s by default)")
            }
            // Who hears the frame: the node across, or whatever the switches pass it to in its VLAN.
            // Who answers ARP/NDP for the next hop: IPv4 answers for any of the node's addresses
            // (arp_ignore 0), IPv6 only for addresses of the receiving interface.
            let hearers = layer2.hearers(of: InterfaceRef(node: current, interface: deviceName))
            let answering = hearers.first { heard in
                guard let far = self.node(named: heard.node), let interface = far.interface(named: heard.interface) else { return false }
                return nextHop.family == .ipv4 ? far.owner(of: nextHop) != nil : interface.addresses.contains { $0.address == nextHop }
            }
            guard let answering else {
                // "peer across place does not have", or, through switches or VLANs, what was reached.
                let direct = !peerNode.isSwitch && device.parent == nil
                let reached = hearers.isEmpty ? "none" : hearers.map(\.description).joined(separator: ", ")
                let vlan = layer2.firstVLAN(of: InterfaceRef(node: current, interface: deviceName)).map { " in VLAN \($0.vlan) at \($0.port)" } ?? ""
                let lacking = direct ? "\(peer) across \(place) does not have"
                                     : "none of the interfaces \(place) reaches\(vlan) (\(reached)) has"
                let failed = node.neighbours.first { $0.interface == deviceName && $0.address == nextHop }
                let evidence = failed.map { " (neighbour entry \(nextHop) dev \($0.interface) \($0.state))" } ?? ""
                if let gateway = route.gateway {
                    if !device.addresses.contains(where: { $0.contains(gateway) }) {
                        return stop(current, .gatewayNotConnected,
                                    "gateway \(gateway) of route \(route.text) is not on a subnet of \(place) (\(subnets(device))), and \(direct ? "\(peer) does not answer for it" : "\(lacking) it")\(evidence)")
                    }
                    return stop(current, .gatewayUnreachable,
                                "gateway \(gateway) does not answer: \(lacking) that address\(ownerHint(gateway))\(evidence)")
                }
                return stop(current, .addressMissing,
                            direct ? "\(destination) is not on \(peer), the node across \(place)\(ownerHint(destination))\(evidence)"
                                   : "\(destination) is not there: \(lacking) it\(ownerHint(destination))\(evidence)")
            }
            current = answering.node
            cameIn = answering.interface
        }
    }

    /// "the path is 198 hops, more than the TTL 64 the packet left r1-1 with (the probe's)": the
    /// rest of the path walked from where the TTL ran out (`node`, `crossed` links from `start`).
    private func ttlExceeded(from start: String, at node: String, after crossed: Int, to destination: IPAddress,
                             ttl: PacketTTL) -> String {
        // From `node` as if it sent the packet (its own source address: routes do not depend on it).
        let rest = walk(from: node, to: destination)
        let word = PacketTTL.word(destination.family)
        let length = rest.delivered ? "the path to \(destination) is \(crossed + rest.hops.count - 1) hops"
                                    : "the path to \(destination) is longer than \(ttl.value) hops"
        return "\(length), more than the \(word) \(ttl.value) the packet left \(start) with (\(ttl.origin)): a router drops it "
            + "when its \(word) runs out (ICMP time exceeded)"
    }

    /// The model's cables, switches and sub-interfaces; cables only between interfaces that are
    /// both up, as only those carry frames.
    private func makeLayer2() -> Layer2 {
        var layer2 = Layer2()
        for node in nodes where node.isSwitch { layer2.addSwitch(node.name, vlanFiltering: node.vlanFiltering) }
        for node in nodes {
            for interface in node.interfaces {
                let here = InterfaceRef(node: node.name, interface: interface.name)
                if let peer = interface.peer, interface.passesFrames, interface.carrier,
                   self.node(named: peer.node)?.interface(named: peer.interface)?.passesFrames == true {
                    layer2.addCable(here, peer)
                }
                if node.isSwitch, let vlans = interface.portVLANs { layer2.setPortVLANs(here, vlans) }
                if let parent = interface.parent, let vlan = interface.vlan, interface.up {
                    layer2.addSubinterface(interface.name, vlan: vlan, on: InterfaceRef(node: node.name, interface: parent))
                }
            }
        }
        return layer2
    }

    private func subnets(_ interface: ModelInterface) -> String {
        let list = interface.addresses.filter { !$0.address.isLinkLocalV6 }.map { $0.network.description }
        return list.isEmpty ? "it has no addresses" : "its subnets: \(list.joined(separator: ", "))"
    }

    /// " (the topology gives it to X:Y; it is gone)" when the address is declared but missing.
    private func ownerHint(_ address: IPAddress) -> String {
        if let now = owner(of: address) { return "; it is on \(now)" }
        if let declared = declaredOwner(of: address) { return "; the topology gives it to \(declared), which no longer has it" }
        return "; no node of the lab has it"
    }

    /// No route: plain, or because an interface went down and the kernel removed its routes.
    private func noRouteProblem(_ node: ModelNode, _ destination: IPAddress) -> (PathCause, String) {
        var detail = "\(node.name) has no route to \(destination)"
        let declared = node.declaredRoutes.filter { $0.destination.contains(destination) }
            .max { $0.destination.length < $1.destination.length }
        // The subnets a down interface has, or had before the kernel removed its IPv6 addresses.
        func downInterface(covering address: IPAddress) -> ModelInterface? {
            node.interfaces.first { interface in
                let declared = declaredAddresses[InterfaceRef(node: node.name, interface: interface.name)] ?? []
                return !interface.up && (interface.addresses + declared).contains { $0.contains(address) }
            }
        }
        if let declared {
            if let down = downInterface(covering: declared.gateway ?? destination) {
                return (.linkDown, detail + ": \(node.name):\(down.name) is down, and the kernel removed the routes through it (the topology declares \(declared.text))")
            }
            detail += " (the topology declares \(declared.text); it is not in the kernel's table)"
        } else if let down = downInterface(covering: destination) {
            return (.linkDown, detail + ": \(node.name):\(down.name), on \(destination)'s subnet, is down")
        }
        return (.noRoute, detail)
    }
}
