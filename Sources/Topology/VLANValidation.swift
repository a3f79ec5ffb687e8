import NetAddress

/// What `vlan`, `vlans` and `native` make of each end, once every node's kind and every
/// interface's name is known: on a bridge, the port's VLANs; on a host or router, 802.1Q
/// sub-interfaces. A key on the link applies to each end that has none of its own.
extension Validator {
    mutating func resolveVLANs(_ lab: inout DraftLab) {
        let kinds = Dictionary(lab.nodes.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
        for node in lab.nodes where node.kind != .bridge {
            for (key, written) in [("stp", node.stp), ("vlan-filtering", node.vlanFilteringWritten)] {
                guard let written else { continue }
                error(written.location, "'\(key)' is a bridge's setting, and \(Names.quoted(node.name)) is a \(node.kind.rawValue)",
                      hint: "remove it, or make the node a switch with `kind: bridge`")
            }
        }
        var names: [String: [String: SourceLocation]] = [:]
        // Link by link: a copy of every endpoint at once took 28 MB for 10,000 links.
        for link in lab.links {
            for endpoint in link.endpoints {
                guard let interface = endpoint.interface, names[endpoint.node.value]?[interface.value] == nil else { continue }
                names[endpoint.node.value, default: [:]][interface.value] = interface.location
            }
        }
        for l in lab.links.indices {
            let link = lab.links[l]
            if let vlans = link.vlans, !link.endpoints.contains(where: { kinds[$0.node.value] == .bridge }) {
                for (key, written) in [("vlan", vlans.access), ("native", vlans.native)] {
                    guard let written else { continue }
                    error(written.location, "'\(key)' on a link sets the ports of a bridge, and neither end of this link is on one",
                          hint: "to tag traffic between hosts or routers, give both ends 802.1Q sub-interfaces: `vlans: [\(written.value)]`")
                }
            }
            for e in link.endpoints.indices {
                let endpoint = link.endpoints[e]
                guard let written = endpoint.vlans ?? link.vlans, let parent = endpoint.interface?.value else { continue }
                let own = endpoint.vlans != nil
                let node = endpoint.node.value
                if kinds[node] == .bridge {
                    lab.links[l].endpoints[e].portVLANs = portVLANs(written, port: "\(node):\(parent)")
                    continue
                }
                for (key, value) in [("vlan", written.access), ("native", written.native)] where own {
                    guard let value else { continue }
                    error(value.location, "'\(key)' sets a bridge port, and \(Names.quoted(node)) is a \(kinds[node]?.rawValue ?? "node"), not a bridge",
                          hint: "put `vlan: \(value.value)` on the end of the link that is on the switch; to tag \(node)'s own traffic, "
                              + "give it an 802.1Q sub-interface: `vlans: { \(value.value): ADDRESS/LENGTH }`")
                }
                var subinterfaces = written.subinterfaces?.value
                    ?? (written.list?.value ?? []).filter { $0.value != written.native?.value }.map { DraftSubinterface(vlan: $0) }
                for s in subinterfaces.indices {
                    let vlan = subinterfaces[s].vlan
                    if subinterfaces[s].name == nil {
                        let name = "\(parent).\(vlan.value)"
                        if let problem = Names.interfaceNameProblem(name) {
                            error(vlan.location, "sub-interface name \(Names.quoted(name)) (INTERFACE.VLAN): \(problem.message)",
                                  hint: "name it: `vlans: { \(vlan.value): { interface: v\(vlan.value) } }`, or shorten the interface name \(Names.quoted(parent))")
                        }
                        subinterfaces[s].name = Located(value: name, location: vlan.location)
                    }
                    guard let name = subinterfaces[s].name else { continue }
                    if let first = names[node]?[name.value] {
                        error(name.location, "interface \(Names.quoted(name.value)) is used twice on node \(Names.quoted(node)); the first is at \(first)",
                              hint: "give the sub-interface another name: `vlans: { \(vlan.value): { interface: NAME } }`")
                    } else {
                        names[node, default: [:]][name.value] = name.location
                    }
                }
                lab.links[l].endpoints[e].subinterfaces = subinterfaces
            }
        }
        for n in lab.nodes.indices where lab.nodes[n].kind == .bridge {
            let name = lab.nodes[n].name
            let ports = lab.links.flatMap(\.endpoints).filter { $0.node.value == name && $0.portVLANs != nil }
            if let written = lab.nodes[n].vlanFilteringWritten, !written.value, let port = ports.first {
                error(written.location, "bridge \(Names.quoted(name)) has VLAN ports (\(name):\(port.interface?.value ?? "?") is "
                      + "\(port.portVLANs?.text ?? "?")) but 'vlan-filtering' is false",
                      hint: "remove `vlan-filtering: false`: a bridge whose ports have VLANs filters by VLAN")
            }
            lab.nodes[n].vlanFiltering = lab.nodes[n].vlanFilteringWritten?.value ?? !ports.isEmpty
        }
        checkWhatCrossesPorts(lab)
    }

    /// A bridge port's VLANs from its end's keys; nil after reporting sub-interfaces on a port.
    private mutating func portVLANs(_ written: DraftVLANs, port: String) -> PortVLANs? {
        if let subinterfaces = written.subinterfaces {
            error(subinterfaces.location, "port \(port) of a bridge cannot have sub-interfaces",
                  hint: "a bridge port takes `vlan: 10` (access) or a list, `vlans: [10, 20]` (a trunk); "
                      + "sub-interfaces with addresses belong on the host or router at the other end")
            return nil
        }
        if let access = written.access { return PortVLANs(untagged: access.value) }
        guard let list = written.list else { return nil }
        let native = written.native?.value
        return PortVLANs(untagged: native, tagged: list.value.map(\.value).filter { $0 != native })
    }

    /// A host's or router's end on a VLAN-filtering bridge: each sub-interface's VLAN must be one
    /// the port carries tagged, and addresses on the end itself need an untagged VLAN on the port.
    private mutating func checkWhatCrossesPorts(_ lab: DraftLab) {
        let filtering = Set(lab.nodes.filter { $0.kind == .bridge && $0.vlanFiltering }.map(\.name))
        let bridges = Set(lab.nodes.filter { $0.kind == .bridge }.map(\.name))
        for link in lab.links where link.endpoints.count == 2 {
            for (near, far) in [(link.endpoints[0], link.endpoints[1]), (link.endpoints[1], link.endpoints[0])]
            where filtering.contains(far.node.value) && !bridges.contains(near.node.value) {
                let port = far.portVLANs ?? .kernelDefault
                let portName = "port \(far.node.value):\(far.interface?.value ?? "?")"
                for sub in near.subinterfaces {
                    let here = "\(near.node.value):\(sub.name?.value ?? "?")"
                    if port.untagged == sub.vlan.value {
                        error(sub.vlan.location, "\(here) sends VLAN \(sub.vlan.value) tagged, but \(portName) sends and receives VLAN \(sub.vlan.value) untagged (\(port.text))",
                              hint: "make the port a trunk carrying it (`vlans: [\(sub.vlan.value)]` on the switch's end), "
                                  + "or put the addresses on \(near.node.value):\(near.interface?.value ?? "?") itself")
                    } else if !port.tagged.contains(sub.vlan.value) {
                        error(sub.vlan.location, "\(portName) does not carry VLAN \(sub.vlan.value) (\(port.text)), so the frames of \(here) are dropped",
                              hint: "add \(sub.vlan.value) to the port's `vlans`")
                    }
                }
                if port.untagged == nil, let address = near.addresses.first {
                    error(address.location, "\(near.node.value):\(near.interface?.value ?? "?") has addresses, but \(portName) is a trunk "
                          + "without a native VLAN: its untagged frames are dropped",
                          hint: "give the port `native: N`, or move the addresses to sub-interfaces (`vlans: { 10: ADDRESS }`)")
                }
            }
        }
    }
}

extension DraftLab {
    /// Every interface with its addresses, in file order: each link end, then its sub-interfaces.
    /// (Link by link: a copy of every endpoint first took 27 MB for 10,000 links.)
    var interfaces: [(node: String, name: String?, addresses: [Located<IPPrefix>])] {
        var all: [(node: String, name: String?, addresses: [Located<IPPrefix>])] = []
        all.reserveCapacity(links.count * 2)
        for link in links {
            for endpoint in link.endpoints {
                all.append((endpoint.node.value, endpoint.interface?.value, endpoint.addresses))
                all += endpoint.subinterfaces.map { (endpoint.node.value, $0.name?.value, $0.addresses) }
            }
        }
        return all
    }
}
