import NetAddress

/// What tells a lab's routers apart in OSPF and BGP: their AS numbers and router IDs. Both are
/// decided on the whole lab (an AS handed out depends on how many routers there are, an unnumbered
/// router's ID on how many came before it), so a host's part of a spread lab has them written
/// (`as:`, `router-id:`, and `as:` of the routers under `remote:`) and every machine configures
/// the same router the same way.
extension Topology {
    /// A node runs FRR: every router under `routing: ospf|bgp`, and every node with its own `frr:`.
    public func runsFRR(_ node: Node) -> Bool {
        node.frr != nil || (routing.isDynamic && node.kind == .router)
    }

    /// The routers that speak the lab's routing protocol, in file order.
    public var routingSpeakers: [Node] { routing.isDynamic ? nodes.filter { $0.kind == .router } : [] }

    /// Under `routing: bgp`, the AS of every speaker: written, or handed out in file order
    /// (PrivateAS); and of every router elsewhere that `remote:` gives one.
    public func asNumbers() -> [String: UInt32] {
        guard routing == .bgp else { return [:] }
        let speakers = routingSpeakers
        var numbers: [String: UInt32] = [:]
        for (index, node) in speakers.enumerated() {
            numbers[node.name] = node.asNumber ?? PrivateAS.number(forRouter: index, of: speakers.count)
        }
        for remote in remoteNodes { if let number = remote.asNumber { numbers[remote.name] = number } }
        return numbers
    }

    /// The router ID of every node that runs FRR: written, else the lowest IPv4 address on its
    /// interfaces (unique in the lab, and it stays put when other addresses change), else, for a
    /// node with no IPv4 address (OSPFv3 and BGP still need a 32-bit ID), 0.0.0.N for the Nth
    /// such node in file order.
    public func routerIDs() -> [String: IPAddress] {
        var lowest: [String: UInt32] = [:]
        for interface in declaredInterfaces {
            for prefix in interface.addresses {
                guard case .v4(let value) = prefix.address else { continue }
                lowest[interface.node] = min(lowest[interface.node] ?? .max, value)
            }
        }
        var ids: [String: IPAddress] = [:]
        var unnumbered: UInt32 = 0
        for node in nodes where runsFRR(node) {
            if let written = node.routerID {
                ids[node.name] = written
            } else if let value = lowest[node.name] {
                ids[node.name] = .v4(value)
            } else {
                unnumbered += 1
                ids[node.name] = .v4(unnumbered)
            }
        }
        return ids
    }
}
