import NetAddress

/// Where something was written in the topology file (1-based, columns in Unicode scalars).
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file; self.line = line; self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A lab as the topology file declares it, after decoding and validation.
public struct Topology: Sendable {
    /// The lab's name: the key of its record under /run/nslab and what `destroy LAB` takes.
    public var name: String
    /// Prepended to every node name to form its namespace name ("" by default, so node `ns01`
    /// is namespace `ns01` and the seeds' own `ip netns exec ns01 …` lines work verbatim).
    public var prefix: String
    /// In file order.
    public var nodes: [Node]
    /// In file order.
    public var links: [Link]
    /// Path of the file the topology came from, as given.
    public var file: String
    /// What `nslab verify` checks (the `expect:` list), in file order.
    public var expectations: [Expectation]

    /// How link ends find each other's MAC addresses, as the file says: `.dynamic` (ARP and NDP,
    /// as by hand) or `.permanent` (entries installed at deploy, exempt from the host-wide
    /// neighbour limit); nil when the file does not say, and deploy chooses permanent entries
    /// for a lab that would overflow the host's neighbour tables, dynamic ones otherwise.
    public var neighbours: NeighbourMode?

    /// `ttl:`: the TTL and IPv6 hop limit every node's kernel sends with (net.ipv4.ip_default_ttl,
    /// net.ipv6.conf.*.hop_limit); nil when the file does not say, and deploy keeps the kernel's
    /// 64 unless a path is longer (`nodeTTL()`).
    public var ttl: Int?

    /// `routing:`: how routers learn routes. `.ospf` and `.bgp` run FRR on every router.
    public var routing: RoutingMode
    /// The grammar the file was written in.
    public var format: TopologyFormat = .nslab
    /// What the file says that nslab leaves aside on purpose (a containerlab file's images and
    /// management network), once per kind of thing, where it is first said.
    public var notes: [Diagnostic] = []
    /// `hosts:`: the other machines the lab spreads over, in file order.
    public var hosts: [LabHost] = []
    /// `vxlan:`: how links between machines are numbered.
    public var vxlan = VXLANPlan()
    /// `remote:`: the lab's nodes on other machines, in a host's part of a spread lab.
    public var remoteNodes: [RemoteNode] = []
    /// `placed-on:`: the host whose part of a spread lab this is ("" for the machine that
    /// deployed it); nil for a lab on one machine.
    public var placedOn: String?

    public init(name: String, prefix: String = "", nodes: [Node], links: [Link], file: String, expectations: [Expectation] = [],
                neighbours: NeighbourMode? = nil, routing: RoutingMode = .none) {
        self.name = name; self.prefix = prefix; self.nodes = nodes; self.links = links; self.file = file
        self.expectations = expectations; self.neighbours = neighbours; self.routing = routing
    }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    public func namespaceName(of node: String) -> String { prefix + node }

    /// Every endpoint on the given node, in file order.
    public func endpoints(of node: String) -> [Endpoint] {
        links.flatMap { $0.endpoints }.filter { $0.node == node }
    }

    /// True when an interface has an IPv6 address or a node an IPv6 route.
    public var hasIPv6: Bool {
        declaredInterfaces.contains { $0.addresses.contains { $0.family == .ipv6 } }
            || nodes.contains { $0.routes.contains { $0.destination.family == .ipv6 } }
    }

    /// Every interface the file declares, link ends and their 802.1Q sub-interfaces, in file
    /// order (each end followed by its sub-interfaces), with the addresses it has.
    public var declaredInterfaces: [DeclaredInterface] {
        links.flatMap(\.endpoints).flatMap { endpoint in
            [DeclaredInterface(node: endpoint.node, interface: endpoint.interface, addresses: endpoint.addresses)]
                + endpoint.subinterfaces.map {
                    DeclaredInterface(node: endpoint.node, interface: $0.name, addresses: $0.addresses, vlan: $0.vlan,
                                      parent: endpoint.interface)
                }
        }
    }
}

/// An interface as the topology declares it: a link end, or a sub-interface of one.
public struct DeclaredInterface: Sendable {
    public var node: String
    public var interface: String
    public var addresses: [IPPrefix]
    /// For a sub-interface: its VLAN and the link end it is on.
    public var vlan: UInt16?
    public var parent: String?

    public init(node: String, interface: String, addresses: [IPPrefix], vlan: UInt16? = nil, parent: String? = nil) {
        self.node = node; self.interface = interface; self.addresses = addresses; self.vlan = vlan; self.parent = parent
    }

    public var id: String { "\(node):\(interface)" }
}

public enum TopologyFormat: String, Sendable, Codable {
    /// nslab's own topology file.
    case nslab
    /// A containerlab topology (`*.clab.yml`, recognised by its top-level `topology:` key).
    case containerlab
}

public enum NeighbourMode: String, Sendable, Codable, CaseIterable {
    case dynamic
    /// `neighbours: static`: every link end gets a permanent entry for the other end's addresses.
    case permanent = "static"
}

public enum NodeKind: String, Sendable, Codable, CaseIterable {
    /// Forwards nothing: ip_forward 0 and IPv6 forwarding 0, set explicitly.
    case host
    /// Forwards IPv4 and IPv6.
    case router
    /// A switch: a Linux bridge (br0) in its own namespace; every link end on it is a port of
    /// that bridge, so the nodes on its other ends share one segment. Its ports have no
    /// addresses and it has no routes; IP forwarding is off.
    case bridge

    public var forwards: Bool { self == .router }
}

public struct Node: Sendable {
    public var name: String
    public var kind: NodeKind
    public var routes: [Route]
    public var location: SourceLocation
    /// Files the node sees over /etc (through /etc/netns/NAMESPACE/), in file order.
    public var files: [NodeFile]
    /// Processes started inside the node once the lab is up, in file order.
    public var commands: [NodeCommand]
    /// A bridge's spanning tree (`stp: true`); off by default, so ports forward at once.
    public var stp: Bool
    /// A bridge that forwards by VLAN (`vlan_filtering 1`): on when any of its ports has `vlan`
    /// or `vlans`, or when the file says `vlan-filtering: true`.
    public var vlanFiltering: Bool
    /// `as:`: the router's AS under `routing: bgp` (nil: one handed out, PrivateAS).
    public var asNumber: UInt32?
    /// `area:`: the OSPF area of the router's links that do not say.
    public var area: OSPFArea?
    /// `router-id:`: the router's OSPF and BGP router ID (nil: its lowest IPv4 address).
    public var routerID: IPAddress?
    /// `frr:`: the node's own FRR configuration; a node with one runs FRR whatever the routing.
    public var frr: FRRSettings?
    /// `host:`: the machine (of `hosts:`) the node runs on; nil: the one nslab runs on.
    public var host: String?

    public init(name: String, kind: NodeKind = .host, routes: [Route] = [], location: SourceLocation,
                files: [NodeFile] = [], commands: [NodeCommand] = [], stp: Bool = false, vlanFiltering: Bool = false,
                asNumber: UInt32? = nil, area: OSPFArea? = nil, routerID: IPAddress? = nil, frr: FRRSettings? = nil,
                host: String? = nil) {
        self.name = name; self.kind = kind; self.routes = routes; self.location = location
        self.files = files; self.commands = commands; self.stp = stp; self.vlanFiltering = vlanFiltering
        self.asNumber = asNumber; self.area = area; self.routerID = routerID; self.frr = frr; self.host = host
    }
}

/// The VLANs of a port of a VLAN-filtering bridge (`vlan:` or `vlans:` on a link end on a bridge).
public struct PortVLANs: Sendable, Hashable, Codable {
    /// The port's PVID, sent and received untagged: an access port's VLAN, a trunk's native VLAN.
    /// nil: untagged frames arriving on the port are dropped.
    public var untagged: UInt16?
    /// VLANs carried with their 802.1Q tag (a trunk's), in file order.
    public var tagged: [UInt16]

    public init(untagged: UInt16?, tagged: [UInt16] = []) { self.untagged = untagged; self.tagged = tagged }

    /// What the kernel gives every port of a VLAN-filtering bridge: VLAN 1, PVID, untagged.
    public static let kernelDefault = PortVLANs(untagged: 1)

    public func carries(_ vlan: UInt16) -> Bool { untagged == vlan || tagged.contains(vlan) }

    /// "access 10", "trunk 10,20", "trunk 10,20 native 1".
    public var text: String {
        if tagged.isEmpty { return untagged.map { "access \($0)" } ?? "no vlans" }
        return "trunk " + tagged.map(String.init).joined(separator: ",") + (untagged.map { " native \($0)" } ?? "")
    }
}

/// An 802.1Q sub-interface on a host or router end: `eth0.10` sends and receives the frames of
/// VLAN 10 on eth0 with their tag.
public struct Subinterface: Sendable {
    public var vlan: UInt16
    /// PARENT.VLAN unless the file names it.
    public var name: String
    public var addresses: [IPPrefix]
    public var location: SourceLocation

    public init(vlan: UInt16, name: String, addresses: [IPPrefix] = [], location: SourceLocation) {
        self.vlan = vlan; self.name = name; self.addresses = addresses; self.location = location
    }
}

/// A static route on a node: `DEST [via GATEWAY] [dev IFACE] [metric N]`.
public struct Route: Sendable {
    /// 0.0.0.0/0 or ::/0 for `default`.
    public var destination: IPPrefix
    public var gateway: IPAddress?
    /// Interface name on the same node.
    public var device: String?
    public var metric: UInt32?
    public var location: SourceLocation
    /// Why `routing: static` chose this route, kept as the few facts it is worded from (no
    /// text is made until explain asks: a 100×100 grid computes millions of routes).
    var why: RouteReason?

    /// Why `routing: static` chose this route ("shortest path to r3, 2 hops, …"); nil for a
    /// route written in the file.
    public var reason: String? {
        get { why?.text }
        set { why = newValue.map(RouteReason.text) }
    }

    public init(destination: IPPrefix, gateway: IPAddress? = nil, device: String? = nil,
                metric: UInt32? = nil, location: SourceLocation, reason: String? = nil) {
        self.destination = destination; self.gateway = gateway; self.device = device
        self.metric = metric; self.location = location; self.why = reason.map(RouteReason.text)
    }

    init(destination: IPPrefix, gateway: IPAddress?, location: SourceLocation, why: RouteReason) {
        self.destination = destination; self.gateway = gateway; self.location = location; self.why = why
    }

    public var isDefault: Bool { destination.length == 0 }

    /// As `ip route` would take it: "default via 192.168.0.254", "10.0.0.0/24 via 172.16.0.2 dev eth1".
    public var text: String {
        var words = [isDefault ? "default" : destination.network.description]
        if let gateway { words += ["via", gateway.description] }
        if let device { words += ["dev", device] }
        if let metric { words += ["metric", String(metric)] }
        return words.joined(separator: " ")
    }
}

/// One end of a link: an interface on a node.
public struct Endpoint: Sendable {
    public var node: String
    /// The interface name inside the node (at most 15 bytes, as the kernel requires).
    public var interface: String
    public var addresses: [IPPrefix]
    public var mtu: UInt32?
    /// Six bytes, or nil for the kernel's random address.
    public var mac: [UInt8]?
    public var location: SourceLocation
    /// What this interface does to the packets it sends (`impair:`), on top of the link's own.
    public var impairment: Impairment?
    /// On a VLAN-filtering bridge: the port's VLANs (nil: the kernel's default, VLAN 1 untagged).
    public var portVLANs: PortVLANs?
    /// On a host or router: its 802.1Q sub-interfaces, in file order.
    public var subinterfaces: [Subinterface]
    /// The OSPF cost of this interface (its own `cost:`, else the link's); nil: FRR's default.
    public var cost: UInt32?

    public init(node: String, interface: String, addresses: [IPPrefix] = [], mtu: UInt32? = nil,
                mac: [UInt8]? = nil, location: SourceLocation, impairment: Impairment? = nil,
                portVLANs: PortVLANs? = nil, subinterfaces: [Subinterface] = [], cost: UInt32? = nil) {
        self.node = node; self.interface = interface; self.addresses = addresses
        self.mtu = mtu; self.mac = mac; self.location = location; self.impairment = impairment
        self.portVLANs = portVLANs; self.subinterfaces = subinterfaces; self.cost = cost
    }

    /// "node:interface", as the topology file and the CLI write it.
    public var id: String { "\(node):\(interface)" }
}

/// A point-to-point link: a veth pair with one end in each node.
public struct Link: Sendable {
    /// Two; one when the link is a `tunnel` to another machine.
    public var endpoints: [Endpoint]
    /// `vni:` of a link between nodes on different machines (nil: one from `vxlan:`'s range).
    public var vni: UInt32?
    /// `vxlan:`: the link's one end is joined by VXLAN to another machine.
    public var tunnel: VXLANTunnel?
    public var location: SourceLocation
    /// `state: down`: created with both ends down, as a cable not plugged in.
    public var isDown: Bool
    /// Both directions' impairment (`impair:` on the link).
    public var impairment: Impairment?
    /// `flap:`: taken down and up on a schedule once the lab is up.
    public var flap: FlapSchedule?
    /// `area:`: the link's OSPF area (nil: its routers' `area:`, else the backbone).
    public var area: OSPFArea?

    public init(endpoints: [Endpoint], location: SourceLocation, isDown: Bool = false, impairment: Impairment? = nil,
                flap: FlapSchedule? = nil, area: OSPFArea? = nil, vni: UInt32? = nil, tunnel: VXLANTunnel? = nil) {
        self.endpoints = endpoints; self.location = location; self.isDown = isDown; self.impairment = impairment
        self.flap = flap; self.area = area; self.vni = vni; self.tunnel = tunnel
    }

    /// What the endpoint at `index` sends through: the link's impairment, then its own over it.
    public func impairment(of index: Int) -> Impairment? {
        let own = index < endpoints.count ? endpoints[index].impairment : nil
        switch (impairment, own) {
        case (nil, nil): return nil
        case (let link?, nil): return link
        case (nil, let own?): return own
        case (let link?, let own?): return link.merged(with: own)
        }
    }
}

/// One problem found in a topology file.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    /// What is wrong, one sentence, no trailing period.
    public var message: String
    /// What to do about it, if there is something more specific to say.
    public var hint: String?

    public init(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        self.location = location; self.message = message; self.hint = hint
    }

    /// "file:line:column: error: message (hint)", the form compilers and editors understand.
    public var description: String {
        var text = "\(location): error: \(message)"
        if let hint { text += "\n    hint: \(hint)" }
        return text
    }
}

/// A topology file that cannot be used: every problem found, in file order.
public struct TopologyError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
