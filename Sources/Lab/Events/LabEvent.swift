import Foundation

/// One change in a deployed lab, as `nslab events` prints it: from the kernel (a node's netlink
/// events), from the lab's journal (what nslab did) or from the lab's directory (deployed,
/// destroyed).
public struct LabEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The lab's deploy finished (its journal's `deployed`).
        case labDeployed = "lab-deployed"
        /// A deploy converged the lab to a file (`converged`).
        case labConverged = "lab-converged"
        /// The lab's record is gone: destroyed.
        case labDestroyed = "lab-destroyed"
        /// A converge added a node (its namespace was created) or removed one.
        case nodeAdded = "node-added"
        case nodeRemoved = "node-removed"
        /// `nslab node … stop|start` (`node-state`).
        case nodeStopped = "node-stopped"
        case nodeStarted = "node-started"
        /// An interface appeared in a node or went away.
        case interfaceAdded = "interface-added"
        case interfaceRemoved = "interface-removed"
        /// An interface was set up or down (IFF_UP): `nslab link … up|down`, `ip link set`.
        case linkUp = "link-up"
        case linkDown = "link-down"
        /// An interface that is up gained or lost its carrier: the other end went up or down.
        case carrierUp = "carrier-up"
        case carrierDown = "carrier-down"
        case addressAdded = "address-added"
        case addressRemoved = "address-removed"
        /// A route of the main table, with the protocol that installed it.
        case routeAdded = "route-added"
        case routeRemoved = "route-removed"
        /// The interface's root qdisc now impairs what it sends (netem or tbf), or no longer does.
        case impairmentSet = "impairment-set"
        case impairmentCleared = "impairment-cleared"
        /// A process nslab started in a node (`commands:`, `exec -d`, FRR's daemons) started or
        /// exited.
        case processStarted = "process-started"
        case processExited = "process-exited"
    }

    /// When nslab saw it: ISO 8601, local time with its offset, milliseconds.
    public var time: String
    public var type: Kind
    public var lab: String
    public var node: String?
    /// "node:interface".
    public var interface: String?
    /// "ADDRESS/LEN" of an address event.
    public var address: String?
    /// A route's destination ("default" or "PREFIX"), gateway and metric.
    public var destination: String?
    public var gateway: String?
    public var metric: UInt32?
    /// Who installed a route, as `ip route` names it: kernel, static, ospf, bgp, zebra, boot, …
    public var `protocol`: String?
    /// What an impairment does, in the topology's words ("delay=20ms loss=1%").
    public var impairment: String?
    public var pid: Int32?
    public var command: [String]?
    /// The topology file a lab was deployed or converged from.
    public var file: String?
    /// The host of a spread lab whose part it happened in, as the controller follows it (nil:
    /// this machine).
    public var host: String?

    public init(time: String = LabEvent.now(), type: Kind, lab: String, node: String? = nil, interface: String? = nil,
                address: String? = nil, destination: String? = nil, gateway: String? = nil, metric: UInt32? = nil,
                protocol: String? = nil, impairment: String? = nil, pid: Int32? = nil, command: [String]? = nil,
                file: String? = nil, host: String? = nil) {
        self.time = time; self.type = type; self.lab = lab; self.node = node; self.interface = interface
        self.address = address; self.destination = destination; self.gateway = gateway; self.metric = metric
        self.protocol = `protocol`; self.impairment = impairment; self.pid = pid; self.command = command; self.file = file
        self.host = host
    }

    /// ISO 8601 with milliseconds, local time, as log files usually carry (and `link … flap` prints).
    public static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone.current
        return formatter.string(from: Date())
    }

    /// One line: time, lab, what happened, where, the details, and the host when it is another
    /// (`2025-06-01T10:00:00.123+02:00 lab1 link-down r1:eth0 on h2`).
    public var line: String {
        ([time, lab, type.rawValue] + details + (host.map { ["on", $0] } ?? [])).joined(separator: " ")
    }

    private var details: [String] {
        switch type {
        case .labDeployed, .labConverged:
            return file.map { ["from", $0] } ?? []
        case .labDestroyed:
            return []
        case .nodeAdded, .nodeRemoved, .nodeStopped, .nodeStarted:
            return [node ?? "?"]
        case .interfaceAdded, .interfaceRemoved, .linkUp, .linkDown, .carrierUp, .carrierDown:
            return [interface ?? node ?? "?"]
        case .addressAdded, .addressRemoved:
            return [interface ?? node ?? "?", address ?? "?"]
        case .routeAdded, .routeRemoved:
            var words = [node ?? "?", destination ?? "?"]
            if let gateway { words += ["via", gateway] }
            if let interface { words += ["dev", interface] }
            if let metric { words += ["metric", String(metric)] }
            if let `protocol` { words += ["proto", `protocol`] }
            return words
        case .impairmentSet:
            return [interface ?? "?", impairment ?? ""]
        case .impairmentCleared:
            return [interface ?? "?"]
        case .processStarted, .processExited:
            var words = [node ?? "?", "pid", pid.map(String.init) ?? "?"]
            if let command, !command.isEmpty { words += ["--"] + command }
            return words
        }
    }
}
