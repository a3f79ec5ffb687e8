import NetAddress

/// A machine a lab spreads over (`hosts:`). The machine nslab runs on needs no entry: nodes
/// without `host:` are its own.
public struct LabHost: Sendable, Hashable {
    public var name: String
    /// What `ssh` is given: `user@address`, or an alias of the user's ssh configuration (port,
    /// identity and jump hosts come from there).
    public var ssh: String
    /// The address VXLAN packets to and from this machine use; nil: the address ssh reaches it on.
    public var underlay: IPAddress?
    /// The nslab command on that machine (default `nslab`, found on its PATH).
    public var command: String?
    public var location: SourceLocation

    public init(name: String, ssh: String, underlay: IPAddress? = nil, command: String? = nil, location: SourceLocation) {
        self.name = name; self.ssh = ssh; self.underlay = underlay; self.command = command; self.location = location
    }
}

/// `vxlan:` at the top level: how the links between machines are numbered.
public struct VXLANPlan: Sendable, Hashable {
    /// VNIs handed out to cross-host links without their own `vni:`, in link order.
    public var vnis: ClosedRange<UInt32>
    public var port: UInt16
    /// `local:`: this machine's underlay address (nil: the address the hosts see it connect from).
    public var local: IPAddress?

    public static let defaultVNIs: ClosedRange<UInt32> = 10_000...19_999
    public static let defaultPort: UInt16 = 4789

    public init(vnis: ClosedRange<UInt32> = VXLANPlan.defaultVNIs, port: UInt16 = VXLANPlan.defaultPort, local: IPAddress? = nil) {
        self.vnis = vnis; self.port = port; self.local = local
    }
}

/// A link end joined to a machine elsewhere by VXLAN (a link's `vxlan:`): the link has this one
/// end on this machine, and the tunnel carries its frames to `remote`.
public struct VXLANTunnel: Sendable, Hashable {
    public var vni: UInt32
    /// This machine's underlay address; nil: the kernel picks the source by its routes.
    public var local: IPAddress?
    public var remote: IPAddress
    public var port: UInt16
    /// The interface at the far end (`node:interface`), when it is a node of the same lab.
    public var peer: String?

    public init(vni: UInt32, local: IPAddress?, remote: IPAddress, port: UInt16 = VXLANPlan.defaultPort, peer: String? = nil) {
        self.vni = vni; self.local = local; self.remote = remote; self.port = port; self.peer = peer
    }

    /// `peer` as a node and an interface; nil when the tunnel names none.
    public var peerEnd: InterfaceRef? {
        guard let peer, let colon = peer.firstIndex(of: ":") else { return nil }
        return InterfaceRef(node: String(peer[..<colon]), interface: String(peer[peer.index(after: colon)...]))
    }

    /// The MTU a tunnel end gets when the file gives none: an Ethernet underlay's 1500 less the
    /// encapsulation (outer IP, UDP, VXLAN, inner Ethernet).
    public var defaultMTU: UInt32 { 1500 - ((local ?? remote).family == .ipv6 ? 70 : 50) }
}

/// A node of the lab that runs on another machine (`remote:`): named in hosts files, probed by
/// verify, never created here.
public struct RemoteNode: Sendable {
    public var name: String
    public var host: String
    public var kind: NodeKind
    /// Its AS under `routing: bgp`: what this machine's routers peer with.
    public var asNumber: UInt32?
    public var interfaces: [DeclaredInterface]

    public init(name: String, host: String, kind: NodeKind = .host, asNumber: UInt32? = nil, interfaces: [DeclaredInterface]) {
        self.name = name; self.host = host; self.kind = kind; self.asNumber = asNumber; self.interfaces = interfaces
    }
}

extension Topology {
    /// Declared interfaces with those of the nodes on other machines (`remote:`): what probes
    /// and explanations may target.
    public var interfacesWithRemote: [DeclaredInterface] {
        remoteNodes.isEmpty ? declaredInterfaces : declaredInterfaces + remoteNodes.flatMap(\.interfaces)
    }

    /// True when some node is placed on another machine: deploy goes through SSH.
    public var isSpread: Bool { !hosts.isEmpty }

    /// The hosts some node is placed on: declared ones without nodes have no part.
    public var hostsWithNodes: [LabHost] {
        let used = Set(nodes.compactMap(\.host))
        return hosts.filter { used.contains($0.name) }
    }

    /// The host a node runs on: nil for the machine nslab runs on.
    public func host(of node: String) -> String? { self.node(named: node)?.host }

    /// Every host the lab places nodes on, the machine nslab runs on as nil, in file order.
    public var placements: [String?] {
        var seen: [String?] = []
        for node in nodes where !seen.contains(node.host) { seen.append(node.host) }
        return seen
    }

    /// Links whose two ends are on different machines, in file order, with their VNI.
    public var crossHostLinks: [(link: Link, vni: UInt32)] {
        var result: [(Link, UInt32)] = []
        var used = Set(links.compactMap(\.vni))
        var next = vxlan.vnis.lowerBound
        for link in links where link.endpoints.count == 2 && host(of: link.endpoints[0].node) != host(of: link.endpoints[1].node) {
            if let vni = link.vni {
                result.append((link, vni))
                continue
            }
            while used.contains(next) { next += 1 }
            used.insert(next)
            result.append((link, next))
        }
        return result
    }

    /// What machine `host` (nil: the one nslab runs on) deploys: its own nodes, the links between
    /// them, and for each link to a node elsewhere a VXLAN end from `underlays[host]` to the other
    /// machine's underlay; the nodes elsewhere as `remote:` (named in hosts files, probed by
    /// verify). An ordinary lab: the host's own nslab deploys, inspects and destroys it alone.
    /// `underlays` has every host's address, the machine nslab runs on under "".
    public func part(for host: String?, underlays: [String: IPAddress]) -> Topology {
        let key = { (host: String?) in host ?? "" }
        var part = self
        part.hosts = []
        part.placedOn = key(host)
        part.nodes = nodes.filter { $0.host == host }.map { node in
            var local = node
            local.host = nil
            return local
        }
        let vnis = Dictionary(crossHostLinks.map { ($0.link.location, $0.vni) }, uniquingKeysWith: { first, _ in first })
        part.links = links.compactMap { link in
            let local = link.endpoints.filter { self.host(of: $0.node) == host }
            if local.count == link.endpoints.count { return link }
            guard local.count == 1, let far = link.endpoints.first(where: { self.host(of: $0.node) != host }),
                  let vni = vnis[link.location], let remote = underlays[key(self.host(of: far.node))] else { return nil }
            var end = link
            var tunnel = VXLANTunnel(vni: vni, local: underlays[key(host)], remote: remote, port: vxlan.port, peer: far.id)
            end.endpoints = local.map { endpoint in
                var endpoint = endpoint
                if endpoint.mtu == nil { endpoint.mtu = tunnel.defaultMTU }
                return endpoint
            }
            if tunnel.local?.family != remote.family { tunnel.local = nil }
            end.vni = nil
            end.tunnel = tunnel
            return end
        }
        let elsewhere = nodes.filter { $0.host != host }
        let interfaces = Dictionary(grouping: declaredInterfaces, by: \.node)
        let asNumbers = asNumbers()
        part.remoteNodes = remoteNodes + elsewhere.map {
            RemoteNode(name: $0.name, host: $0.host ?? "", kind: $0.kind, asNumber: asNumbers[$0.name], interfaces: interfaces[$0.name] ?? [])
        }
        let localNames = Set(part.nodes.map(\.name))
        part.expectations = expectations.filter { localNames.contains($0.from) }
        if part.routing == .static { part.routing = .none }
        // The longest path is the whole lab's, which no part sees.
        part.ttl = nodeTTL().ttl
        if routing.isDynamic { writeRoutingIdentities(into: &part, asNumbers: asNumbers) }
        return part
    }

    /// A part's routers configured as in the whole lab: their AS and router ID written (both
    /// depend on the routers elsewhere), and the OSPF area of each link to another machine as
    /// the router at either end would choose it.
    private func writeRoutingIdentities(into part: inout Topology, asNumbers: [String: UInt32]) {
        let routerIDs = routerIDs()
        for index in part.nodes.indices where part.runsFRR(part.nodes[index]) {
            let name = part.nodes[index].name
            part.nodes[index].routerID = routerIDs[name]
            if part.nodes[index].kind == .router { part.nodes[index].asNumber = asNumbers[name] ?? part.nodes[index].asNumber }
        }
        guard routing == .ospf else { return }
        let areas = Dictionary(nodes.compactMap { node in node.area.map { (node.name, $0) } }, uniquingKeysWith: { first, _ in first })
        for index in part.links.indices where part.links[index].tunnel != nil && part.links[index].area == nil {
            let local = part.links[index].endpoints.first?.node ?? ""
            let far = part.links[index].tunnel?.peerEnd?.node ?? ""
            part.links[index].area = areas[local] ?? areas[far]
        }
    }
}
