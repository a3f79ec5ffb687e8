import NetAddress

/// `vlan`, `vlans` and `native` on links and endpoints, `stp` and `vlan-filtering` on bridges.
/// What the VLAN keys mean depends on the node an end is on (a bridge port's VLANs, or a host's
/// or router's 802.1Q sub-interfaces), which only validation knows: the decoder reads what is
/// written and checks the values, VLANValidation.swift decides what they make.
extension TopologyDecoder {
    static let vlanHint = "a bridge port takes `vlan: 10` (access) or `vlans: [10, 20]` (trunk, with `native: 1` for its "
        + "untagged VLAN); a host or router end takes `vlans: { 10: 10.10.0.1/24 }` (802.1Q sub-interfaces)"

    /// `true` or `false`; nil after reporting anything else.
    mutating func boolean(_ node: YAMLNode, _ what: String) -> Bool? {
        if case .scalar(let scalar) = node, tagName(node) == .bool {
            return ["true", "yes", "on", "True", "TRUE", "Yes", "YES", "On", "ON", "y", "Y"].contains(scalar.string)
        }
        error(location(node), "\(what) must be true or false, found \(describe(node))")
        return nil
    }

    /// `stp:` and `vlan-filtering:` on a node (validation refuses them on anything but a bridge).
    mutating func decodeBridgeOptions(_ fields: [String: Entry], into node: inout DraftNode) {
        if let entry = fields["stp"], let value = boolean(entry.value, "'stp'") {
            node.stp = Located(value: value, location: entry.keyLocation)
        }
        if let entry = fields["vlan-filtering"], let value = boolean(entry.value, "'vlan-filtering'") {
            node.vlanFilteringWritten = Located(value: value, location: entry.keyLocation)
        }
    }

    /// A VLAN id, 1 to 4094 (0 and 4095 are reserved by 802.1Q).
    mutating func vlanID(_ node: YAMLNode, _ what: String) -> Located<UInt16>? {
        guard let text = text(node, what, expected: "a VLAN id from 1 to 4094") else { return nil }
        return vlanID(text, what, at: location(node))
    }

    private mutating func vlanID(_ text: String, _ what: String, at where_: SourceLocation) -> Located<UInt16>? {
        switch AddressSyntax.integer(text, in: 1...4094, what: what) {
        case .success(let value): return Located(value: UInt16(value), location: where_)
        case .failure(let problem):
            error(where_, problem.message, hint: "VLAN ids go from 1 to 4094: 802.1Q reserves 0 and 4095")
            return nil
        }
    }

    /// The VLAN keys of a link (`onLink`) or of an endpoint's mapping; nil when none is written.
    mutating func decodeVLANs(_ fields: [String: Entry], at where_: SourceLocation, onLink: Bool) -> DraftVLANs? {
        guard fields["vlan"] != nil || fields["vlans"] != nil || fields["native"] != nil else { return nil }
        var result = DraftVLANs(location: where_)
        if let entry = fields["vlan"] { result.access = vlanID(entry.value, "'vlan'") }
        if let entry = fields["native"] { result.native = vlanID(entry.value, "'native'") }
        if let entry = fields["vlans"] {
            switch entry.value {
            case .sequence(let items):
                if items.isEmpty {
                    error(location(entry.value), "'vlans' is empty", hint: "list the VLANs the end carries, e.g. `vlans: [10, 20]`, or remove the key")
                }
                var ids: [Located<UInt16>] = []
                for item in items {
                    guard let id = vlanID(item, "a VLAN id in 'vlans'") else { continue }
                    if let first = ids.first(where: { $0.value == id.value }) {
                        error(id.location, "VLAN \(id.value) is listed twice in 'vlans'; the first is at \(first.location)",
                              hint: "list each VLAN once")
                        continue
                    }
                    ids.append(id)
                }
                result.list = Located(value: ids, location: location(entry.value))
            case .mapping(let mapping) where !onLink:
                result.subinterfaces = Located(value: decodeSubinterfaces(mapping), location: location(entry.value))
            case .mapping:
                error(location(entry.value), "on a link, 'vlans' is a list of VLAN ids, found a mapping",
                      hint: "write `vlans: [10, 20]` on the link; sub-interfaces with addresses go on an endpoint: "
                          + "`{ node: r1, vlans: { 10: 10.10.0.1/24 } }`")
            default:
                error(location(entry.value), "'vlans' must be a list of VLAN ids such as [10, 20]"
                      + (onLink ? "" : " or a mapping of sub-interfaces") + ", found \(describe(entry.value))",
                      hint: "write `vlans: [10]` for a trunk carrying one VLAN, or `vlan: 10` for an access port")
            }
        }
        let hasVLANs = fields["vlans"] != nil
        if let access = fields["vlan"], hasVLANs {
            // Judged as an access port only, so the list adds no second complaint.
            result.list = nil
            result.subinterfaces = nil
            error(access.keyLocation, "'vlan' and 'vlans' together: an end is an access port ('vlan') or a trunk ('vlans'), not both",
                  hint: "for a trunk that also carries one VLAN untagged, write `vlans: [10, 20], native: 1`")
        } else if let native = fields["native"], !hasVLANs {
            error(native.keyLocation, fields["vlan"] != nil
                  ? "'native' is for trunks: an access port's 'vlan' is untagged already"
                  : "'native' needs 'vlans': it is the VLAN a trunk sends and receives untagged",
                  hint: "write `vlans: [10, 20], native: 1`, or `vlan: 10` alone for an access port")
        }
        return result
    }

    /// `vlans: { 10: 10.10.0.1/24, 20: { interface: v20, addresses: [...] }, 30: ~ }`.
    private mutating func decodeSubinterfaces(_ mapping: YAMLNode.Mapping) -> [DraftSubinterface] {
        var result: [DraftSubinterface] = []
        for entry in entries(mapping, what: "in 'vlans'") {
            guard let vlan = vlanID(entry.key, "sub-interface VLAN", at: entry.keyLocation) else { continue }
            if let first = result.first(where: { $0.vlan.value == vlan.value }) {
                error(vlan.location, "VLAN \(vlan.value) has two sub-interfaces; the first is at \(first.vlan.location)",
                      hint: "give each VLAN one sub-interface")
                continue
            }
            var sub = DraftSubinterface(vlan: vlan)
            switch entry.value {
            case .mapping:
                guard let fields = fields(entry.value, allowed: TopologyKeys.subinterface, what: "sub-interface \(vlan.value)",
                                          expected: "a mapping") else { continue }
                if let name = fields["interface"], let text = text(name.value, "'interface'") {
                    if let problem = Names.interfaceNameProblem(text) { error(location(name.value), problem.message, hint: problem.hint) }
                    sub.name = Located(value: text, location: location(name.value))
                }
                if let addresses = fields["addresses"] { sub.addresses = addressList(addresses.value) }
            default:
                sub.addresses = addressList(entry.value)
            }
            result.append(sub)
        }
        return result
    }
}
