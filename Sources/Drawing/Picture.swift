import NetAddress
import Topology

/// What `nslab graph` draws: the nodes with their kind and every link with both of its ends
/// (interface names, addresses), its state and what each end does to the packets it sends.
/// Built from a topology file, optionally overlaid with the state a deployed lab has now.
/// Pure: nothing here reads the kernel; the renderers turn it into DOT, Mermaid or text.
public struct Picture: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var name: String
        public var kind: NodeKind
        /// Live only: the node's namespace is gone (or is no longer the one nslab made).
        public var missing: Bool
        /// Stopped with `nslab node … stop`: there, but switched off.
        public var stopped = false

        public init(name: String, kind: NodeKind, missing: Bool = false) {
            self.name = name; self.kind = kind; self.missing = missing
        }
    }

    public struct End: Sendable, Equatable {
        public var node: String
        public var interface: String
        /// "ADDRESS/LEN", IPv4 first; no link-local addresses.
        public var addresses: [String]
        /// What this end does to the packets it sends, as words ("delay 20ms loss 1%"); nil for nothing.
        public var impairment: String?
        /// VLANs, as the file declares them: a bridge port's ("vlan access 10", "vlan trunk 10,20")
        /// or each 802.1Q sub-interface with its addresses ("eth0.10 10.0.10.1/24").
        public var vlans: [String]

        public init(node: String, interface: String, addresses: [String] = [], impairment: String? = nil,
                    vlans: [String] = []) {
            self.node = node; self.interface = interface; self.addresses = addresses; self.impairment = impairment
            self.vlans = vlans
        }

        /// The addresses, then the VLAN lines: what a drawing writes beside the interface name.
        public var labelParts: [String] { addresses + vlans }

        /// "node:interface", as nslab names a link end.
        public var id: String { "\(node):\(interface)" }
    }

    public struct Link: Sendable, Equatable {
        public var a: End
        public var b: End
        /// Declared `state: down`, or (live) an end that is down, has no carrier or is gone.
        public var isDown: Bool

        public init(a: End, b: End, isDown: Bool = false) {
            self.a = a; self.b = b; self.isDown = isDown
        }

        public var isImpaired: Bool { a.impairment != nil || b.impairment != nil }

        /// The impairments as lines: one when both directions are the same ("delay 20ms"),
        /// otherwise one per impaired end, saying which end sends it ("ns01:eth0 sends: loss 1%").
        public var impairmentLines: [String] {
            if let same = a.impairment, same == b.impairment { return [same] }
            return [a, b].compactMap { end in end.impairment.map { "\(end.id) sends: \($0)" } }
        }
    }

    /// The lab's name.
    public var name: String
    /// Where the picture comes from, for its title: the file, or "deployed lab" for a live one.
    public var source: String
    /// True when links and impairments are the kernel's now rather than the file's.
    public var isLive: Bool
    /// In file order.
    public var nodes: [Node]
    /// In file order.
    public var links: [Link]

    public init(name: String, source: String, isLive: Bool = false, nodes: [Node], links: [Link]) {
        self.name = name; self.source = source; self.isLive = isLive; self.nodes = nodes; self.links = links
    }

    /// The lab as its file declares it: `state: down` links down, declared impairments.
    public init(_ topology: Topology) {
        self.init(name: topology.name, source: topology.file, nodes: topology.nodes.map { Node(name: $0.name, kind: $0.kind) },
                  links: topology.links.compactMap { link in
                      guard link.endpoints.count == 2 else { return nil }
                      let ends = link.endpoints.indices.map { index in
                          let endpoint = link.endpoints[index]
                          return End(node: endpoint.node, interface: endpoint.interface,
                                     addresses: Picture.sorted(endpoint.addresses.map(\.description)),
                                     impairment: link.impairment(of: index).flatMap(Picture.words),
                                     vlans: Picture.vlanLines(endpoint))
                      }
                      return Link(a: ends[0], b: ends[1], isDown: link.isDown)
                  })
    }

    /// The lab as deployed: the topology's nodes and links, with each end's state, addresses and
    /// impairment as `live` reports them now.
    public init(_ topology: Topology, live: LiveState) {
        self.init(topology)
        source = "deployed lab \(topology.name)"
        isLive = true
        for index in nodes.indices where live.missingNodes.contains(nodes[index].name) { nodes[index].missing = true }
        for index in nodes.indices where live.stoppedNodes.contains(nodes[index].name) { nodes[index].stopped = true }
        for index in links.indices {
            var link = links[index]
            let now = [link.a, link.b].map { live.ends[$0.id] }
            link.isDown = now.contains { $0?.carriesTraffic != true }
            for (end, state) in zip([\Link.a, \Link.b], now) {
                link[keyPath: end].addresses = state.map { Picture.sorted($0.addresses.filter(Picture.isShown)) } ?? []
                link[keyPath: end].impairment = state?.impairment.flatMap(Picture.words)
            }
            links[index] = link
        }
    }

    /// "delay 20ms jitter 5ms loss 1%": nslab's `K=V` text with spaces, nil when nothing is set.
    static func words(_ impairment: Impairment) -> String? {
        impairment.isEmpty ? nil : impairment.text.split(separator: " ").map { $0.replacing("=", with: " ") }.joined(separator: " ")
    }

    static func vlanLines(_ endpoint: Endpoint) -> [String] {
        (endpoint.portVLANs.map { ["vlan \($0.text)"] } ?? [])
            + endpoint.subinterfaces.map { sub in
                ([sub.name] + Picture.sorted(sub.addresses.map(\.description))).joined(separator: " ")
            }
    }

    /// Link-local IPv6 addresses are on every interface and say nothing about the lab.
    static func isShown(_ address: String) -> Bool {
        guard let prefix = IPPrefix(address) else { return true }
        return !prefix.address.isLinkLocalV6
    }

    /// IPv4 before IPv6, otherwise in the order given.
    static func sorted(_ addresses: [String]) -> [String] {
        addresses.filter { !$0.contains(":") } + addresses.filter { $0.contains(":") }
    }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Each node's distance in links from the start of its connected part: its first node in
    /// file order, or with `fromCentre` the nodes nearest to all others (least eccentricity;
    /// the hub of a star, the spines of a leaf-spine, the root of a tree), all at distance 0.
    public func levels(fromCentre: Bool = false) -> [String: Int] {
        var neighbours: [String: [String]] = [:]
        for link in links {
            neighbours[link.a.node, default: []].append(link.b.node)
            neighbours[link.b.node, default: []].append(link.a.node)
        }
        func distances(from sources: [String]) -> [String: Int] {
            var level = Dictionary(sources.map { ($0, 0) }, uniquingKeysWith: { a, _ in a })
            var queue = sources, head = 0
            while head < queue.count {
                let current = queue[head]
                head += 1
                for next in neighbours[current] ?? [] where level[next] == nil {
                    level[next] = (level[current] ?? 0) + 1
                    queue.append(next)
                }
            }
            return level
        }
        var level: [String: Int] = [:]
        for node in nodes where level[node.name] == nil {
            let part = distances(from: [node.name])
            var sources = [node.name]
            if fromCentre {
                let members = nodes.map(\.name).filter { part[$0] != nil }
                let eccentricity = Dictionary(members.map { ($0, distances(from: [$0]).values.max() ?? 0) },
                                              uniquingKeysWith: { a, _ in a })
                let least = eccentricity.values.min() ?? 0
                sources = members.filter { eccentricity[$0] == least }
            }
            level.merge(distances(from: sources)) { a, _ in a }
        }
        return level
    }

    /// "4 nodes (2 hosts, 2 routers), 3 links (1 down, 1 impaired)".
    public var summary: String {
        func count(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        let kinds = NodeKind.allCases.compactMap { kind -> String? in
            let n = nodes.filter { $0.kind == kind }.count
            return n == 0 ? nil : count(n, kind.rawValue)
        }
        var text = count(nodes.count, "node") + (kinds.count > 1 ? " (\(kinds.joined(separator: ", ")))" : "")
        text += ", " + count(links.count, "link")
        var notes: [String] = []
        let down = links.filter(\.isDown).count, impaired = links.filter(\.isImpaired).count
        if down > 0 { notes.append("\(down) down") }
        if impaired > 0 { notes.append("\(impaired) impaired") }
        if !notes.isEmpty { text += " (\(notes.joined(separator: ", ")))" }
        let missing = nodes.filter(\.missing).count
        if missing > 0 { text += ", \(count(missing, "node")) missing" }
        return text
    }
}

/// What a deployed lab's link ends are doing now, as read from the kernel (by the Lab module).
public struct LiveState: Sendable, Equatable {
    public struct End: Sendable, Equatable {
        /// Administratively up (IFF_UP).
        public var up: Bool
        /// Carrier present: the peer is up too.
        public var carrier: Bool
        /// "ADDRESS/LEN" as the kernel has them.
        public var addresses: [String]
        /// The root qdisc's impairment, nil for none.
        public var impairment: Impairment?

        public init(up: Bool, carrier: Bool, addresses: [String], impairment: Impairment?) {
            self.up = up; self.carrier = carrier; self.addresses = addresses; self.impairment = impairment
        }

        public var carriesTraffic: Bool { up && carrier }
    }

    /// "node:interface" → its state; an end missing here is gone from the kernel.
    public var ends: [String: End]
    /// Nodes whose namespace is gone.
    public var missingNodes: Set<String>
    /// Nodes stopped with `nslab node … stop`.
    public var stoppedNodes: Set<String> = []

    public init(ends: [String: End], missingNodes: Set<String> = []) {
        self.ends = ends; self.missingNodes = missingNodes
    }
}

/// `text` with each character `replacement` has an answer for written as that answer, and
/// control characters (which no format shows) as spaces.
func escaping(_ text: String, _ replacement: (Unicode.Scalar) -> String?) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if let replaced = replacement(scalar) {
            out += replaced
        } else if scalar.value < 0x20 || scalar.value == 0x7f {
            out += " "
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}
