import Foundation
import Topology

/// Where a spread lab's nodes are, from its record: what a viewer of the whole lab needs before
/// asking any host anything.
public struct SpreadLayout: Sendable, Equatable {
    public struct Placed: Sendable, Equatable {
        public var name: String
        public var host: String
        public var kind: NodeKind

        public init(name: String, host: String, kind: NodeKind) {
            self.name = name; self.host = host; self.kind = kind
        }
    }

    public var lab: String
    /// The hosts that hold nodes of the lab.
    public var hosts: [String]
    /// The nodes on other hosts.
    public var remoteNodes: [Placed]
    /// The links between machines, by their two ends ("node:interface").
    public var crossHostLinks: [[String]]

    public init(lab: String, hosts: [String], remoteNodes: [Placed], crossHostLinks: [[String]]) {
        self.lab = lab; self.hosts = hosts; self.remoteNodes = remoteNodes; self.crossHostLinks = crossHostLinks
    }

    /// The layout of a spread lab's whole topology (its record's spread.yaml).
    public init(_ topology: Topology) {
        lab = topology.name
        remoteNodes = topology.nodes.compactMap { node in node.host.map { Placed(name: node.name, host: $0, kind: node.kind) } }
        hosts = topology.hostsWithNodes.map(\.name)
        crossHostLinks = topology.crossHostLinks.map { $0.link.endpoints.map(\.id) }
    }

    public func host(of node: String) -> String? { remoteNodes.first { $0.name == node }?.host }
}

/// The other hosts' parts of spread labs, as a long-running viewer (`nslab serve`) reads, follows
/// and changes them, whatever reaches the hosts: `SpreadParts` does it with each host's own nslab
/// over ssh.
public protocol RemoteLabParts: AnyObject, Sendable {
    /// Where `lab`'s nodes are; nil when it is not spread over hosts.
    func layout(of lab: String) -> SpreadLayout?
    /// Starts following every host's part but those of `followed` (the caller follows them
    /// already), and waits (a few seconds at most) until each follows or has failed: from then on
    /// no change is missed. The streams are the caller's to stop.
    func follow(_ layout: SpreadLayout, except followed: Set<String>) -> [RemoteEventStream]
    /// Each host's part as it is now, by host; a host that cannot be read, with why.
    func states(_ layout: SpreadLayout) -> [String: Result<LabState, LabError>]
    /// A node on another host, read there now; nil when `node` is not on another host.
    func node(lab: String, node: String) throws -> NodeState?
    /// `nslab link LAB END down|up` where END and its far end are; the ends changed. nil when the
    /// link does not involve another host.
    func setLinkState(lab: String, end: String, up: Bool) throws -> [String]?
    /// Every host's verify (each probes from its own nodes) as one report.
    func verify(lab: String) throws -> VerifyReport
    /// Ends whatever connections it keeps.
    func close()
}
