import NetAddress

/// Which interfaces hear each other's frames: veth pairs as cables, bridges as switches (with
/// or without VLAN filtering, each port with its VLANs), 802.1Q sub-interfaces sending tagged
/// on their parent. Pure: built from the topology for addressing and static routing, and from
/// the live state for explain, so both follow a frame the same way the kernel does.
public struct Layer2: Sendable {
    private var cables: [InterfaceRef: InterfaceRef] = [:]
    /// Every node's cable ends, in the order they were added (a switch's ports).
    private var cableEnds: [String: [String]] = [:]
    /// Switch node → VLAN filtering.
    private var switches: [String: Bool] = [:]
    private var portVLANs: [InterfaceRef: PortVLANs] = [:]
    /// Parent → VLAN → sub-interface name.
    private var subinterfaces: [InterfaceRef: [UInt16: String]] = [:]
    private var parents: [InterfaceRef: Tagged] = [:]

    private struct Tagged: Sendable {
        var parent: String
        var vlan: UInt16
    }

    public init() {}

    public mutating func addSwitch(_ node: String, vlanFiltering: Bool) { switches[node] = vlanFiltering }

    /// A veth pair whose frames get across (for the live state: both ends up).
    public mutating func addCable(_ a: InterfaceRef, _ b: InterfaceRef) {
        for (near, far) in [(a, b), (b, a)] where cables[near] == nil {
            cables[near] = far
            cableEnds[near.node, default: []].append(near.interface)
        }
    }

    /// A port of a VLAN-filtering switch; ports without are in VLAN 1 untagged, as the kernel makes them.
    public mutating func setPortVLANs(_ port: InterfaceRef, _ vlans: PortVLANs) { portVLANs[port] = vlans }

    public mutating func addSubinterface(_ name: String, vlan: UInt16, on parent: InterfaceRef) {
        subinterfaces[parent, default: [:]][vlan] = name
        parents[InterfaceRef(node: parent.node, interface: name)] = Tagged(parent: parent.interface, vlan: vlan)
    }

    public func isSwitch(_ node: String) -> Bool { switches[node] != nil }

    /// The cable end a frame of `interface` leaves by, and its tag (a sub-interface's VLAN).
    private func wire(of interface: InterfaceRef) -> (wire: InterfaceRef, tag: UInt16?) {
        guard let tagged = parents[interface] else { return (interface, nil) }
        return (InterfaceRef(node: interface.node, interface: tagged.parent), tagged.vlan)
    }

    /// When `interface` is cabled to a VLAN-filtering switch: the port and the VLAN its frames
    /// are in there (nil when the port drops them), for saying why a frame reaches no one.
    public func firstVLAN(of interface: InterfaceRef) -> (port: InterfaceRef, vlan: UInt16)? {
        let (wire, tag) = wire(of: interface)
        guard let port = cables[wire], switches[port.node] == true else { return nil }
        let vlans = portVLANs[port] ?? .kernelDefault
        guard let vlan = tag ?? vlans.untagged, vlans.carries(vlan) else { return nil }
        return (port, vlan)
    }

    /// The interfaces of other nodes (never a switch's) that receive what `interface` sends, in
    /// the order its frames reach them. Across a VLAN-filtering switch a frame enters in the
    /// port's PVID when untagged, or in its tag's VLAN when the port carries it; it leaves by
    /// every other port carrying that VLAN, untagged where that is the port's untagged VLAN. A
    /// tagged frame reaching a host or router is received by its sub-interface of that VLAN, if any.
    public func hearers(of interface: InterfaceRef) -> [InterfaceRef] {
        let first = wire(of: interface)
        var result: [InterfaceRef] = []
        var seen: Set<InterfaceRef> = [interface]
        var sent: Set<String> = []
        var queue = [first]
        var head = 0
        while head < queue.count {
            let (wire, tag) = queue[head]
            head += 1
            guard let far = cables[wire] else { continue }
            guard let filtering = switches[far.node] else {
                let receiver: InterfaceRef?
                if let tag {
                    receiver = subinterfaces[far]?[tag].map { InterfaceRef(node: far.node, interface: $0) }
                } else {
                    receiver = far
                }
                if let receiver, seen.insert(receiver).inserted { result.append(receiver) }
                continue
            }
            var vlan = tag
            if filtering {
                let port = portVLANs[far] ?? .kernelDefault
                guard let inside = tag ?? port.untagged, port.carries(inside) else { continue }
                vlan = inside
            }
            for name in cableEnds[far.node] ?? [] where name != far.interface {
                let out = InterfaceRef(node: far.node, interface: name)
                var egress = tag
                if filtering, let vlan {
                    let port = portVLANs[out] ?? .kernelDefault
                    guard port.carries(vlan) else { continue }
                    egress = port.untagged == vlan ? nil : vlan
                }
                if sent.insert("\(out)/\(egress.map(String.init) ?? "-")").inserted { queue.append((out, egress)) }
            }
        }
        return result
    }
}

/// An interface of a host or router as the topology declares it, and where: link `link`, end
/// `end`, and `subinterface` (an index into that end's sub-interfaces) when it is one.
public struct Attachment: Hashable, Sendable {
    public var interface: InterfaceRef
    public var link: Int
    public var end: Int
    public var subinterface: Int?
}

extension Layer2 {
    public init(_ topology: Topology) {
        self.init()
        for node in topology.nodes where node.kind == .bridge { addSwitch(node.name, vlanFiltering: node.vlanFiltering) }
        for link in topology.links where link.endpoints.count == 2 {
            addCable(InterfaceRef(node: link.endpoints[0].node, interface: link.endpoints[0].interface),
                     InterfaceRef(node: link.endpoints[1].node, interface: link.endpoints[1].interface))
            for end in link.endpoints {
                let ref = InterfaceRef(node: end.node, interface: end.interface)
                if let vlans = end.portVLANs { setPortVLANs(ref, vlans) }
                for sub in end.subinterfaces { addSubinterface(sub.name, vlan: sub.vlan, on: ref) }
            }
        }
    }

    /// The topology's segments: groups of host and router interfaces that hear each other (a
    /// point-to-point link is a segment of two; a bridge, one per VLAN). Each group is in file
    /// order, groups in the order of their first interface, so the same file always gives the
    /// same segments.
    public static func segments(of topology: Topology) -> [[Attachment]] {
        let layer2 = Layer2(topology)
        let bridges = Set(topology.nodes.filter { $0.kind == .bridge }.map(\.name))
        var attachments: [Attachment] = []
        for (l, link) in topology.links.enumerated() where link.endpoints.count == 2 {
            for (e, end) in link.endpoints.enumerated() where !bridges.contains(end.node) {
                attachments.append(Attachment(interface: InterfaceRef(node: end.node, interface: end.interface), link: l, end: e))
                for (s, sub) in end.subinterfaces.enumerated() {
                    attachments.append(Attachment(interface: InterfaceRef(node: end.node, interface: sub.name), link: l, end: e, subinterface: s))
                }
            }
        }
        var position: [InterfaceRef: Int] = [:]
        for (index, attachment) in attachments.enumerated() where position[attachment.interface] == nil {
            position[attachment.interface] = index
        }
        // Union-find over "hears": a segment is everything connected to it, whichever way.
        var parent = Array(attachments.indices)
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
            return i
        }
        for (index, attachment) in attachments.enumerated() {
            for heard in layer2.hearers(of: attachment.interface) {
                guard let other = position[heard] else { continue }
                let (a, b) = (root(index), root(other))
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var groups: [Int: [Attachment]] = [:]
        var order: [Int] = []
        for index in attachments.indices {
            let group = root(index)
            if groups[group] == nil { order.append(group) }
            groups[group, default: []].append(attachments[index])
        }
        return order.compactMap { groups[$0] }
    }
}
