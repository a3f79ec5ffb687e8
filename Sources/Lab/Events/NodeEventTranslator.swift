import CShims
import NetAddress
import Netlink
import Topology

/// Turns what one node's netlink socket says into lab events. A netlink message tells the state
/// an object is in now, not what changed: the translator remembers each interface's name, state
/// and carrier, the addresses and the impairments, and reports only differences. What a dump
/// answers (`baseline`) is remembered and never reported.
struct NodeEventTranslator {
    let lab: String
    let node: String

    private struct Interface {
        var name: String
        var up: Bool
        var carrier: Bool
    }
    private var interfaces: [Int32: Interface] = [:]
    private var addresses: Set<AddressKey> = []
    private var impairments: [Int32: String] = [:]

    private struct AddressKey: Hashable {
        var index: UInt32
        var prefix: IPPrefix
    }

    init(lab: String, node: String) {
        self.lab = lab; self.node = node
    }

    /// "node:interface" for a kernel index, or the node alone when the index is unknown.
    private func name(_ index: Int32) -> String? {
        interfaces[index].map { "\(node):\($0.name)" }
    }

    /// The events `event` amounts to; `baseline` is true for the answers of a dump.
    mutating func translate(_ event: NetlinkEvent, baseline: Bool, time: String = LabEvent.now()) -> [LabEvent] {
        func make(_ type: LabEvent.Kind, interface: String? = nil) -> LabEvent {
            LabEvent(time: time, type: type, lab: lab, node: node, interface: interface)
        }
        switch event {
        case .link(let link):
            let now = Interface(name: link.name, up: link.isUp, carrier: link.hasCarrier)
            let before = interfaces[link.index]
            interfaces[link.index] = now
            guard !baseline, !link.isLoopback else { return [] }
            let id = "\(node):\(link.name)"
            guard let before else { return [make(.interfaceAdded, interface: id)] }
            if before.up != now.up { return [make(now.up ? .linkUp : .linkDown, interface: id)] }
            // Carrier follows the interface's own state too: only a change while up is news.
            if now.up && before.carrier != now.carrier { return [make(now.carrier ? .carrierUp : .carrierDown, interface: id)] }
            return []
        case .linkRemoved(let link):
            let known = interfaces.removeValue(forKey: link.index) != nil
            addresses = addresses.filter { $0.index != UInt32(bitPattern: link.index) }
            impairments[link.index] = nil
            return known && !baseline && !link.isLoopback ? [make(.interfaceRemoved, interface: "\(node):\(link.name)")] : []
        case .address(let address), .addressRemoved(let address):
            var added = false
            if case .address = event { added = true }
            let key = AddressKey(index: address.index, prefix: address.prefix)
            // IPv6 addresses are announced again when their flags change (DAD done): only the
            // first announcement is an addition.
            let changed = added ? addresses.insert(key).inserted : addresses.remove(key) != nil
            guard changed, !baseline else { return [] }
            var result = make(added ? .addressAdded : .addressRemoved, interface: name(Int32(bitPattern: address.index)))
            result.address = address.prefix.description
            return [result]
        case .route(let route), .routeRemoved(let route):
            guard !baseline, NodeEventTranslator.isReported(route) else { return [] }
            var added = false
            if case .route = event { added = true }
            var result = make(added ? .routeAdded : .routeRemoved, interface: route.outputIndex.flatMap { name(Int32(bitPattern: $0)) })
            result.destination = route.isDefault ? "default" : route.destination.description
            result.gateway = route.gateway?.description
            result.metric = route.metric
            result.protocol = route.protocolName
            return [result]
        case .qdisc(let qdisc), .qdiscRemoved(let qdisc):
            guard qdisc.parent == rootQdiscParent else { return [] }
            var removed = false
            if case .qdiscRemoved = event { removed = true }
            let impairment = removed ? nil : ImpairmentQdisc.impairment(of: qdisc).map { $0.isEmpty ? "netem" : $0.text }
            let before = impairments[qdisc.index]
            impairments[qdisc.index] = impairment
            guard !baseline, before != impairment else { return [] }
            // A qdisc nslab did not set replaced by another it did not set either: nothing to say.
            if impairment == nil && before == nil { return [] }
            if let impairment {
                var result = make(.impairmentSet, interface: name(qdisc.index))
                result.impairment = impairment
                return [result]
            }
            return [make(.impairmentCleared, interface: name(qdisc.index))]
        case .dumpDone, .overrun:
            return []
        }
    }

    /// Routes of the main table that someone chose: not the kernel's per-interface IPv6 routes
    /// (fe80::/64, multicast), which every link brings and takes.
    static func isReported(_ route: RouteInfo) -> Bool {
        guard route.table == UInt32(RT_TABLE_MAIN.rawValue) else { return false }
        if route.family == .ipv6, route.protocolID == UInt8(RTPROT_KERNEL),
           route.destination.address.isLinkLocalV6 || route.destination.address.isMulticast {
            return false
        }
        return true
    }
}
