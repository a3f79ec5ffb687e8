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

/// A deployed lab as probes and explanations need it: the live kernel state (LabState, read
/// over netlink), the topology it was deployed from (for the declared addresses and routes and
/// the expectations), and the namespace of every node.
public struct LabNetwork: Sendable {
    public let state: LabState
    public let topology: Topology?
    /// Address → node:interface, live first, then as the topology declares them.
    private let owners: [IPAddress: InterfaceRef]

    public init(state: LabState, topology: Topology?) {
        self.state = state
        self.topology = topology
        var owners: [IPAddress: InterfaceRef] = [:]
        for node in state.nodes {
            for interface in node.interfaces {
                for text in interface.addresses {
                    guard let address = IPPrefix(text)?.address, owners[address] == nil else { continue }
                    owners[address] = InterfaceRef(node: node.name, interface: interface.name)
                }
            }
        }
        for declared in topology?.declaredInterfaces ?? [] {
            for prefix in declared.addresses where owners[prefix.address] == nil {
                owners[prefix.address] = InterfaceRef(node: declared.node, interface: declared.interface)
            }
        }
        self.owners = owners
    }

    public var lab: String { state.lab }
    public var nodeNames: [String] { state.nodes.map(\.name) }

    public static func read(lab: String) throws -> LabNetwork {
        let (state, topology) = try LabInspector.read(lab: lab)
        return LabNetwork(state: state, topology: topology)
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

    public func node(_ name: String) throws -> NodeState {
        guard let node = state.nodes.first(where: { $0.name == name }) else {
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
        for current in state.nodes where current.name == node {
            for entry in current.interfaces where interface == nil || entry.name == interface {
                entry.addresses.compactMap { IPPrefix($0)?.address }.forEach(add)
            }
        }
        for declared in topology?.declaredInterfaces ?? [] where declared.node == node && (interface == nil || declared.interface == interface) {
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
        for current in state.nodes {
            for entry in current.interfaces {
                for text in entry.addresses { if let address = IPPrefix(text)?.address { add(address, to: current.name) } }
            }
        }
        for declared in topology?.declaredInterfaces ?? [] {
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
        guard nodeNames.contains(node) else {
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

    /// Which node and interface hold `address` now (or were given it by the topology).
    public func owner(of address: IPAddress) -> InterfaceRef? { owners[address] }

    /// The routing model of the live state, for explain.
    public func model() -> NetworkModel {
        let nodes = state.nodes.filter(\.present).map { node -> ModelNode in
            let interfaces = node.interfaces.map { interface in
                ModelInterface(name: interface.name, up: interface.up, carrier: interface.carrier || interface.kind == nil,
                               addresses: interface.addresses.compactMap(IPPrefix.init),
                               peer: interface.peer.map { InterfaceRef(node: $0.node, interface: $0.interface) },
                               vlan: interface.vlan, parent: interface.parent,
                               portVLANs: interface.vlans.map { vlans in PortVLANs(untagged: vlans.pvid, tagged: vlans.tagged) },
                               portState: interface.portState)
            }
            let routes = node.routes.compactMap { route -> ModelRoute? in
                let family: IPAddress.Family = route.family == "ipv6" ? .ipv6 : .ipv4
                guard let destination = route.destination == "default"
                        ? IPPrefix(address: family == .ipv4 ? .v4(0) : .v6(0, 0), length: 0) : IPPrefix(route.destination)
                else { return nil }
                let kind = route.type.flatMap(ModelRoute.Kind.init(rawValue:)) ?? .unicast
                if route.type == "local" { return nil }
                // Routes a person or nslab added (boot, static) and the kernel's own say nothing more.
                let daemon = ["boot", "static", "kernel"].contains(route.protocol) ? nil : route.protocol
                return ModelRoute(destination, via: route.gateway.flatMap(IPAddress.init), dev: route.device,
                                  metric: route.metric ?? 0, source: route.source.flatMap(IPAddress.init), kind: kind,
                                  protocolName: daemon)
            }
            let neighbours = (node.neighbours ?? []).compactMap { entry in
                IPAddress(entry.address).map { ModelNeighbour(interface: entry.interface, address: $0, state: entry.state) }
            }
            let declared = topology?.node(named: node.name)?.routes.map {
                ModelRoute($0.destination, via: $0.gateway, dev: $0.device, metric: $0.metric ?? 0)
            } ?? []
            return ModelNode(name: node.name, forwardsIPv4: node.forwarding.ipv4 ?? false, forwardsIPv6: node.forwarding.ipv6 ?? false,
                             interfaces: interfaces, routes: routes, neighbours: neighbours, declaredRoutes: declared,
                             isSwitch: node.kind == NodeKind.bridge.rawValue,
                             vlanFiltering: node.interfaces.contains { $0.bridge?.vlanFiltering == true })
        }
        var declaredAddresses: [InterfaceRef: [IPPrefix]] = [:]
        for declared in topology?.declaredInterfaces ?? [] {
            declaredAddresses[InterfaceRef(node: declared.node, interface: declared.interface), default: []] += declared.addresses
        }
        return NetworkModel(nodes: nodes, declaredAddresses: declaredAddresses)
    }
}
