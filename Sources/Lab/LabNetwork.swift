import CShims
import Foundation
import NetAddress
import Namespaces
import Netlink
import Topology

/// Problems with what a verify, ping, trace or explain command was asked about.
public enum ProbeError: Error, CustomStringConvertible, Sendable {
    case noLabWithNode(String, labs: [String])
    case severalLabsWithNode(String, labs: [String])
    case unknownTarget(String, lab: String, hint: String)
    case nodeMissing(String, lab: String)
    case socket(node: String, SystemCallError)
    /// `verify --from/--to NODE` names no node that can send or answer probes.
    case badSelection(flag: String, node: String, lab: String, nodes: [String], isSwitch: Bool)

    /// 2: the request itself is wrong (nothing was probed); 1: the probing failed.
    public var exitCode: Int32 {
        if case .socket = self { return 1 }
        return 2
    }

    public var description: String {
        switch self {
        case .noLabWithNode(let node, let labs):
            return labs.isEmpty ? "no lab is deployed; deploy one with `nslab deploy FILE`"
                : "no deployed lab has a node \"\(node)\" (labs: \(labs.joined(separator: ", "))); name the lab with --lab"
        case .severalLabsWithNode(let node, let labs):
            return "several labs have a node \"\(node)\": \(labs.joined(separator: ", ")); choose one with --lab"
        case .unknownTarget(let target, let lab, let hint):
            return "\"\(target)\" is not a node, NODE:INTERFACE or address of lab \(lab): \(hint)"
        case .nodeMissing(let node, let lab):
            return "node \(node) of lab \(lab) has no namespace any more (removed by hand?); `nslab inspect \(lab)` shows what is left"
        case .socket(let node, let error):
            return "cannot open an ICMP socket in node \(node): \(error)"
        case .badSelection(let flag, let node, let lab, let nodes, let isSwitch):
            if isSwitch { return "\(flag) \(node): \(node) is a switch of lab \(lab): it has no address to probe from or to; name a host or router" }
            let suggestion = Suggest.didYouMean(node, among: nodes).map { " (\($0))" } ?? ""
            return "\(flag) \(node): lab \(lab) has no node \(node)\(suggestion); `nslab inspect \(lab)` lists its nodes"
        }
    }
}

/// A deployed lab as probes and explanations need it: the live kernel state (ObservedLab, read
/// over netlink once), the topology it was deployed from (for the declared addresses and routes
/// and the expectations), and the namespace of every node.
public struct LabNetwork: Sendable {
    public let observed: ObservedLab
    public let topology: Topology?
    /// Address → node:interface, live first, then as the topology declares them.
    private let owners: [IPAddress: InterfaceRef]

    public init(observed: ObservedLab, topology: Topology?) {
        self.observed = observed
        self.topology = topology
        var owners: [IPAddress: InterfaceRef] = [:]
        for node in observed.nodes {
            guard let kernel = node.kernel else { continue }
            let addresses = kernel.addressesByIndex
            for link in kernel.links.sorted(by: { $0.index < $1.index }) {
                for prefix in addresses[link.index] ?? [] where owners[prefix.address] == nil {
                    owners[prefix.address] = InterfaceRef(node: node.name, interface: link.name)
                }
            }
        }
        for declared in topology?.interfacesWithRemote ?? [] {
            for prefix in declared.addresses where owners[prefix.address] == nil {
                owners[prefix.address] = InterfaceRef(node: declared.node, interface: declared.interface)
            }
        }
        self.owners = owners
    }

    public var lab: String { observed.lab }
    public var nodeNames: [String] { observed.nodes.map(\.name) }

    public static func read(lab: String) throws -> LabNetwork {
        let (observed, topology) = try ObservedLab.read(deployed: lab)
        return LabNetwork(observed: observed, topology: topology)
    }

    /// The lab that has `node`: `lab` when given, else the only deployed lab with such a node.
    public static func locate(node: String, lab: String?) throws -> String {
        if let lab { return lab }
        let labs = LabRecord.labs()
        let matches = labs.filter { name in
            (try? LabRecord.read(lab: name).summary.namespaces.contains { $0.node == node }) == true
        }
        if matches.count == 1, let only = matches.first { return only }
        if matches.isEmpty { throw ProbeError.noLabWithNode(node, labs: labs) }
        throw ProbeError.severalLabsWithNode(node, labs: matches)
    }

    /// The node, present (its namespace there and nslab's).
    public func node(_ name: String) throws -> ObservedNode {
        guard let node = observed.node(name) else {
            throw LabError.unknownNode(lab: lab, node: name, known: nodeNames)
        }
        guard node.present else { throw ProbeError.nodeMissing(name, lab: lab) }
        return node
    }

    public func namespace(of node: String) throws -> NetworkNamespace {
        try NetworkNamespace.open(try self.node(node).namespace)
    }

    /// Addresses a probe may target on a node: global ones, live and declared (a declared one
    /// removed by hand is still expected to answer), IPv4 first. No loopback, no link-local.
    public func addresses(of node: String, interface: String? = nil) -> [IPAddress] {
        var found: [IPAddress] = []
        func add(_ address: IPAddress) {
            if !address.isLoopback, !address.isLinkLocalV6, !found.contains(address) { found.append(address) }
        }
        for current in observed.nodes where current.name == node {
            guard let kernel = current.kernel else { continue }
            let addresses = kernel.addressesByIndex
            for link in kernel.links.sorted(by: { $0.index < $1.index }) where interface == nil || link.name == interface {
                (addresses[link.index] ?? []).map(\.address).forEach(add)
            }
        }
        for declared in topology?.interfacesWithRemote ?? [] where declared.node == node && (interface == nil || declared.interface == interface) {
            declared.addresses.map(\.address).forEach(add)
        }
        return found.sorted { ($0.family == .ipv4 ? 0 : 1) < ($1.family == .ipv4 ? 0 : 1) }
    }

    /// `addresses(of:)` of every node at once, in one pass over the lab: asked node by node, each
    /// call walked every node and every declared interface, and a 10,000-leaf star's hub (20,000
    /// addresses) was deduplicated by a linear search each time (verify of a 3,001-node star: 9.6 s).
    public func addressesOfEveryNode() -> [String: [IPAddress]] {
        var found: [String: [IPAddress]] = [:]
        var seen: [String: Set<IPAddress>] = [:]
        func add(_ address: IPAddress, to node: String) {
            guard !address.isLoopback, !address.isLinkLocalV6, seen[node, default: []].insert(address).inserted else { return }
            found[node, default: []].append(address)
        }
        for current in observed.nodes {
            guard let kernel = current.kernel else { continue }
            let addresses = kernel.addressesByIndex
            for link in kernel.links.sorted(by: { $0.index < $1.index }) {
                for prefix in addresses[link.index] ?? [] { add(prefix.address, to: current.name) }
            }
        }
        for declared in topology?.interfacesWithRemote ?? [] {
            for prefix in declared.addresses { add(prefix.address, to: declared.node) }
        }
        return found.mapValues { addresses in addresses.sorted { ($0.family == .ipv4 ? 0 : 1) < ($1.family == .ipv4 ? 0 : 1) } }
    }

    /// What a command-line or expectation target means: a node (all its addresses), NODE:IFACE
    /// (that interface's addresses) or an address.
    public func resolve(_ target: String) throws -> (label: String, addresses: [IPAddress]) {
        if let address = IPAddress(target) { return (target, [address]) }
        let parts = target.split(separator: ":", maxSplits: 1).map(String.init)
        let node = parts[0]
        // A spread lab's nodes on other machines are targets too.
        guard nodeNames.contains(node) || topology?.remoteNodes.contains(where: { $0.name == node }) == true else {
            let hint = (Suggest.didYouMean(node, among: nodeNames).map { $0 + " " } ?? "")
                + "its nodes: \(nodeNames.joined(separator: ", "))"
            throw ProbeError.unknownTarget(target, lab: lab, hint: hint)
        }
        let interface = parts.count == 2 ? parts[1] : nil
        let addresses = addresses(of: node, interface: interface)
        if addresses.isEmpty {
            throw ProbeError.unknownTarget(target, lab: lab, hint: interface == nil ? "\(node) has no addresses"
                                            : "\(node) has no interface \(interface ?? "") with addresses")
        }
        return (target, addresses)
    }

    /// "r2:eth0", and for a node of a spread lab on another host "r2:eth0 on h2".
    public func hopName(_ end: InterfaceRef) -> String {
        guard let remote = topology?.remoteNodes.first(where: { $0.name == end.node }) else { return end.description }
        return "\(end) on \(remote.host.isEmpty ? "the controller" : remote.host)"
    }

    /// Which node and interface hold `address` now (or were given it by the topology).
    public func owner(of address: IPAddress) -> InterfaceRef? { owners[address] }

    /// The routing model of the live state, for explain.
    public func model() -> NetworkModel {
        let declaredNodes = Dictionary((topology?.nodes ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let nodes = observed.nodes.compactMap { node -> ModelNode? in
            guard let kernel = node.kernel else { return nil }
            let names = kernel.namesByIndex
            let addresses = kernel.addressesByIndex
            let interfaces = kernel.links.sorted { $0.index < $1.index }.map { link in
                let port = link.master == nil ? nil : kernel.bridgePorts.first { $0.index == link.index }
                let vlans = kernel.filtersVLANs(master: link.master) ? port.map { PortVLANState($0.vlans) } : nil
                // lo has no kind and no carrier to lose.
                return ModelInterface(name: link.name, up: link.isUp, carrier: link.hasCarrier || link.kind == nil,
                                      addresses: addresses[link.index] ?? [], peer: node.peers[link.name],
                                      vlan: link.vlanID, parent: link.vlanID == nil ? nil : link.peerIndex.flatMap { names[$0] },
                                      portVLANs: vlans.map { PortVLANs(untagged: $0.pvid, tagged: $0.tagged) },
                                      portState: port?.isForwarding == false ? port?.stateName : nil)
            }
            let routes = kernel.routes.compactMap { route -> ModelRoute? in
                guard !route.destination.address.isMulticast, let kind = ModelRoute.Kind(route) else { return nil }
                // Routes a person or nslab added (boot, static) and the kernel's own say nothing more.
                let daemon = [UInt8(RTPROT_BOOT), UInt8(RTPROT_STATIC), UInt8(RTPROT_KERNEL)].contains(route.protocolID)
                    ? nil : route.protocolName
                return ModelRoute(route.destination, via: route.gateway, dev: route.outputIndex.flatMap { names[Int32($0)] },
                                  metric: route.metric ?? 0, source: route.preferredSource, kind: kind, protocolName: daemon)
            }
            let neighbours = kernel.neighbours.filter { !$0.destination.isMulticast }.map { entry in
                ModelNeighbour(interface: names[entry.index] ?? String(entry.index), address: entry.destination,
                               state: entry.stateName, isFailed: entry.isFailed)
            }
            let declared = declaredNodes[node.name]?.routes.map {
                ModelRoute($0.destination, via: $0.gateway, dev: $0.device, metric: $0.metric ?? 0)
            } ?? []
            var model = ModelNode(name: node.name, forwardsIPv4: kernel.forwardingIPv4 ?? false, forwardsIPv6: kernel.forwardingIPv6 ?? false,
                                  interfaces: interfaces, routes: routes, neighbours: neighbours, declaredRoutes: declared,
                                  isSwitch: node.isSwitch, vlanFiltering: kernel.links.contains { $0.isBridge && $0.vlanFiltering == true })
            model.defaultTTL = kernel.ttl(.ipv4)
            model.defaultHopLimit = kernel.ttl(.ipv6)
            return model
        }
        var declaredAddresses: [InterfaceRef: [IPPrefix]] = [:]
        for declared in topology?.interfacesWithRemote ?? [] {
            declaredAddresses[InterfaceRef(node: declared.node, interface: declared.interface), default: []] += declared.addresses
        }
        // The links of a spread lab to nodes on other hosts: the model stops there.
        var model = NetworkModel(nodes: nodes, declaredAddresses: declaredAddresses)
        for link in topology?.links ?? [] {
            guard let tunnel = link.tunnel, let end = link.endpoints.first else { continue }
            let farNode = tunnel.peerEnd?.node
            let host = topology?.remoteNodes.first { $0.name == farNode }.map { $0.host.isEmpty ? "the controller" : $0.host }
            model.markOtherHost(InterfaceRef(node: end.node, interface: end.interface), host: host ?? "\(tunnel.remote)")
        }
        return model
    }
}

extension ModelRoute.Kind {
    /// The model's kind of a kernel route; nil for a local one, which the model leaves out.
    /// Others forward as unicast routes do.
    init?(_ route: RouteInfo) {
        switch Int(route.type) {
        case Int(RTN_LOCAL): return nil
        case Int(RTN_BLACKHOLE): self = .blackhole
        case Int(RTN_UNREACHABLE): self = .unreachable
        case Int(RTN_PROHIBIT): self = .prohibit
        default: self = .unicast
        }
    }
}
