import Foundation
import NetAddress
import Netlink
import Routing
import Topology

/// One step between what a lab is and what its topology asks for. Computed by LabDifference,
/// printed by `diff` and `deploy`, carried out by LabConverger.
public enum LabChange: Sendable {
    case addNode(PlannedNode)
    case removeNode(ObservedNode)
    /// A host becoming a router or back: IPv4 and IPv6 forwarding.
    case setForwarding(node: String, forwards: Bool)
    /// What the node's kernel sends with (Topology.nodeTTL): IPv4 TTL and IPv6 hop limit.
    case setTTL(node: String, from: Int, to: Int)
    /// Both ends, created in their nodes with their MTU, MAC and state.
    case addLink(PlannedLink, ends: [PlannedInterface])
    /// Deleting one end of a veth deletes the pair.
    case removeLink(InterfaceRef, peer: InterfaceRef?)
    /// A bridge node's br0 or an 802.1Q sub-interface.
    case addInterface(node: String, PlannedInterface)
    case removeInterface(InterfaceRef, kind: String?)
    case setMTU(InterfaceRef, from: UInt32?, to: UInt32)
    case setMAC(InterfaceRef, from: [UInt8]?, to: [UInt8])
    case setMaster(InterfaceRef, from: String?, to: String?)
    case setUp(InterfaceRef, up: Bool)
    case addAddress(InterfaceRef, IPPrefix)
    case removeAddress(InterfaceRef, IPPrefix)
    case setImpairment(InterfaceRef, from: Impairment?, to: Impairment?)
    case setPortVLANs(InterfaceRef, from: PortVLANState?, to: PortVLANs)
    case addNeighbour(InterfaceRef, PermanentNeighbour)
    case removeNeighbour(InterfaceRef, PermanentNeighbour)
    case addRoute(node: String, PlannedRoute)
    case replaceRoute(node: String, from: String, to: PlannedRoute)
    case removeRoute(node: String, RouteInfo, text: String)
    /// `previous` is nil when the file does not exist yet.
    case writeFile(node: String, PlannedFile, previous: String?)
    case removeFile(node: String, name: String)
    case startCommand(node: String, argv: [String])
    case endCommand(node: String, RecordedProcess)
    /// A node's FRR started with the plan's files and daemons: new, or restarted because its
    /// files differ or its daemons do not all run (`previous`, as found).
    case startFRR(node: String, FRRNodeConfig, previous: ObservedFRR?)
    /// A node that no longer runs FRR: its daemons end, its FRR directories go.
    case removeFRR(node: String, ObservedFRR)
    /// A link's `flap:` schedule started in its first end's node.
    case startFlap(PlannedFlap)
    /// A link's schedule changed: the one recorded (`previous`) ends if it runs, the new one starts.
    case restartFlap(PlannedFlap, previous: RecordedProcess)
    /// A schedule no link asks for any more: it ends (its link is left up).
    case endFlap(node: String, RecordedProcess)

    public enum Operation: String, Codable, Sendable {
        case add, change, remove

        public var sign: String {
            switch self {
            case .add: return "+"
            case .change: return "~"
            case .remove: return "-"
            }
        }
    }

    public var operation: Operation {
        switch self {
        case .addNode, .addLink, .addInterface, .addAddress, .addNeighbour, .addRoute, .startCommand, .startFlap: return .add
        case .removeNode, .removeLink, .removeInterface, .removeAddress, .removeNeighbour, .removeRoute, .removeFile,
             .endCommand, .removeFRR, .endFlap: return .remove
        case .writeFile(_, _, let previous): return previous == nil ? .add : .change
        case .startFRR(_, _, let previous): return previous == nil ? .add : .change
        case .setForwarding, .setTTL, .setMTU, .setMAC, .setMaster, .setUp, .setImpairment, .setPortVLANs, .replaceRoute, .restartFlap:
            return .change
        }
    }

    /// What kind of thing changes, as `--json` names it.
    public var object: String {
        switch self {
        case .addNode, .removeNode, .setForwarding, .setTTL: return "node"
        case .addLink, .removeLink, .setMTU, .setMAC, .setMaster, .setUp, .setImpairment, .setPortVLANs: return "link"
        case .addInterface, .removeInterface: return "interface"
        case .addAddress, .removeAddress: return "address"
        case .addNeighbour, .removeNeighbour: return "neighbour"
        case .addRoute, .replaceRoute, .removeRoute: return "route"
        case .writeFile, .removeFile: return "file"
        case .startCommand, .endCommand: return "command"
        case .startFRR, .removeFRR: return "frr"
        case .startFlap, .restartFlap, .endFlap: return "flap"
        }
    }

    /// The node the change is made in (for a link, its first end's).
    public var node: String {
        switch self {
        case .addNode(let node): return node.name
        case .removeNode(let node): return node.name
        case .addLink(let link, _): return link.ends[0].node
        case .removeLink(let end, _), .removeInterface(let end, _), .setMTU(let end, _, _), .setMAC(let end, _, _),
             .setMaster(let end, _, _), .setUp(let end, _), .addAddress(let end, _), .removeAddress(let end, _),
             .setImpairment(let end, _, _), .setPortVLANs(let end, _, _), .addNeighbour(let end, _),
             .removeNeighbour(let end, _):
            return end.node
        case .setForwarding(let node, _), .setTTL(let node, _, _), .addInterface(let node, _), .addRoute(let node, _), .replaceRoute(let node, _, _),
             .removeRoute(let node, _, _), .writeFile(let node, _, _), .removeFile(let node, _), .startCommand(let node, _),
             .endCommand(let node, _), .startFRR(let node, _, _), .removeFRR(let node, _), .endFlap(let node, _):
            return node
        case .startFlap(let flap), .restartFlap(let flap, _): return flap.end.node
        }
    }

    /// The change in words after its sign: "link router02:eth1 mtu 1500 → 1400".
    public var text: String {
        switch self {
        case .addNode(let node): return "node \(node.name) (\(node.kind.rawValue))"
        case .removeNode(let node): return "node \(node.name)"
        case .setForwarding(let node, let forwards):
            return "node \(node) forwarding \(forwards ? "off → on" : "on → off")"
        case .setTTL(let node, let from, let to): return "node \(node) ttl \(from) → \(to)"
        case .addLink(let link, _): return "link " + link.kind.text(ends: link.ends)
        case .removeLink(let end, let peer): return "link \(end)" + (peer.map { " -- \($0)" } ?? "")
        case .addInterface(let node, let interface): return "interface \(node):\(interface.name) (\(interface.kindText))"
        case .removeInterface(let end, let kind): return "interface \(end)" + (kind.map { " (\($0))" } ?? "")
        case .setMTU(let end, let from, let to): return "link \(end) mtu \(from.map(String.init) ?? "?") → \(to)"
        case .setMAC(let end, let from, let to): return "link \(end) mac \(from.map(formatMAC) ?? "?") → \(formatMAC(to))"
        case .setMaster(let end, let from, let to): return "link \(end) master \(from ?? "none") → \(to ?? "none")"
        case .setUp(let end, let up): return "link \(end) state \(up ? "down → up" : "up → down")"
        case .addAddress(let end, let prefix), .removeAddress(let end, let prefix): return "address \(prefix) on \(end)"
        case .setImpairment(let end, let from, let to):
            return "link \(end) impairment \(from.map(\.text) ?? "none") → \(to.map(\.text) ?? "none")"
        case .setPortVLANs(let end, let from, let to): return "link \(end) vlans \(from?.text ?? "none") → \(to.text)"
        case .addNeighbour(let end, let entry), .removeNeighbour(let end, let entry):
            return "neighbour \(entry.address) lladdr \(formatMAC(entry.mac)) on \(end)"
        case .addRoute(let node, let route): return "route \(route.text) on \(node)"
        case .replaceRoute(let node, let from, let to): return "route \(from) → \(to.text) on \(node)"
        case .removeRoute(let node, _, let text): return "route \(text) on \(node)"
        case .writeFile(let node, let file, _): return "file \(node):/etc/\(file.name)"
        case .removeFile(let node, let name): return "file \(node):/etc/\(name)"
        case .startCommand(let node, let argv): return "command \(node): \(commandText(argv))"
        case .endCommand(let node, let process): return "command \(node): \(commandText(process.command)) (pid \(process.pid))"
        case .startFRR(let node, let config, let previous):
            guard let previous else { return "frr \(node) (\(config.daemons.joined(separator: ", ")))" }
            return "frr \(node) " + previous.differences(from: config).joined(separator: ", ")
        case .removeFRR(let node, _): return "frr \(node)"
        case .startFlap(let flap): return "flap \(flap.end) \(flap.schedule.text)"
        case .restartFlap(let flap, _): return "flap \(flap.end) schedule → \(flap.schedule.text)"
        case .endFlap(let node, let process):
            return "flap \(node): \(commandText(["nslab"] + process.command.dropFirst())) (pid \(process.pid))"
        }
    }

    /// "+ node ns03", "~ link router02:gw02-veth2 mtu 1500 → 1400", "- route … on router01".
    public var line: String { "\(operation.sign) \(text)" }

    /// The same, as `--json` lists it.
    public var record: ChangeRecord {
        ChangeRecord(operation: operation, object: object, node: node, text: text)
    }
}

/// A change as `--json` gives it.
/// `deploy --json`: what a deploy did; also what a spread lab's controller reads back from each host.
public struct DeployReport: Codable, Sendable {
    public var lab: String
    /// True for a lab that was not deployed before.
    public var created: Bool
    public var changes: [ChangeRecord]

    public init(lab: String, created: Bool, changes: [ChangeRecord]) { self.lab = lab; self.created = created; self.changes = changes }
}

public struct ChangeRecord: Codable, Sendable, Equatable {
    public var operation: LabChange.Operation
    public var object: String
    public var node: String
    public var text: String
    /// Something in the lab that no version of its topology put there (added by hand): removed
    /// only with `--prune`.
    public var foreign: Bool = false

    /// "+ node ns03", as deploy prints it.
    public var line: String { "\(operation.sign) \(text)" }
}

extension PlannedInterface {
    var kindText: String {
        switch kind {
        case .linkEnd(_, let link): return link.kernelKind
        case .vlan(let parent, let id): return "vlan \(id) on \(parent)"
        case .bridge(let stp, let vlanFiltering):
            return "bridge, stp \(stp ? "on" : "off")" + (vlanFiltering ? ", vlan filtering" : "")
        }
    }
}

/// An argument vector as a shell would take it back: words with spaces or quotes are quoted.
func commandText(_ argv: [String]) -> String {
    if argv.count == 3, argv[0] == "/bin/sh", argv[1] == "-c" { return argv[2] }
    return argv.map { word in
        word.isEmpty || word.contains(where: { " \t\"'\\$".contains($0) })
            ? "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" : word
    }.joined(separator: " ")
}
