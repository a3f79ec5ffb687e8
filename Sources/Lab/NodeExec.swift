import Foundation
import Namespaces
import Netlink
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// A node of a deployed lab, found by name.
public struct NodeLocation: Sendable, Equatable {
    public var lab: String
    public var node: String
    public var namespace: String
    /// The namespace's inode as the record has it (nil while its creation is unconfirmed).
    public var inode: UInt64?
}

/// `nslab exec`: commands inside nodes, in the foreground exactly as `ip netns exec` runs them
/// (plus the node's host name), or in the background with a log.
public enum NodeExec {
    /// Finds `node` (a node name, or a namespace name) among the deployed labs, or in `lab` only.
    public static func locate(node: String, lab: String? = nil) throws -> NodeLocation {
        var found: [NodeLocation] = []
        var known: [(node: String, lab: String)] = []
        for name in lab.map({ [$0] }) ?? LabRecord.labs() {
            let summary: RecordSummary
            if lab != nil {
                summary = try LabRecord.read(lab: name).summary
            } else {
                guard let read = try? LabRecord.read(lab: name).summary else { continue }
                summary = read
            }
            known += summary.namespaces.map { ($0.node, name) }
            // The node's own name first: with a prefix, its namespace name is the other spelling.
            if let entry = summary.namespaces.first(where: { $0.node == node })
                ?? summary.namespaces.first(where: { $0.name == node }) {
                found.append(NodeLocation(lab: name, node: entry.node, namespace: entry.name, inode: summary.inodes[entry.name]))
            }
        }
        if found.count > 1 { throw LabError.ambiguousNode(node: node, labs: found.map(\.lab)) }
        if let location = found.first { return location }
        if let lab { throw LabError.unknownNode(lab: lab, node: node, known: known.map(\.node)) }
        let suggestion = Suggest.closest(to: node, among: known.map(\.node)).flatMap { name in known.first { $0.node == name } }
        throw LabError.nodeNotDeployed(node: node, suggestion: suggestion, labs: LabRecord.labs())
    }

    /// Runs `command` inside the node with this process's stdin, stdout, stderr and terminal,
    /// waits for it and returns its exit status (128 + signal if a signal ended it).
    public static func run(_ command: [String], at location: NodeLocation) throws -> Int32 {
        try Privileges.check(for: "run a command inside a node")
        // As a shell does for a foreground job: Ctrl-C and Ctrl-\ reach the whole foreground
        // process group, the command decides what they mean, and nslab waits for its status.
        // The child gets them back at their default unless nslab was started ignoring them.
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        let previousQuit = signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, previousInterrupt)
            signal(SIGQUIT, previousQuit)
        }
        var restore: [Int32] = []
        if !isIgnored(previousInterrupt) { restore.append(SIGINT) }
        if !isIgnored(previousQuit) { restore.append(SIGQUIT) }
        let pid = try spawn(command, at: location, options: SpawnOptions(defaultSignals: restore))
        return Spawn.wait(for: pid)
    }

    /// Starts the command and lets go of the namespace fds at once: an open fd keeps a
    /// namespace alive, and nslab must not hold the node up while it waits.
    private static func spawn(_ command: [String], at location: NodeLocation, options: SpawnOptions) throws -> pid_t {
        let namespace = try openNamespace(location)
        let recorded = NodeEnvironmentRecord(lab: location.lab)
        let utsFD = try NodeEnvironment.openUTS(lab: location.lab, node: location.node, recorded: recorded)
        defer { if let utsFD { close(utsFD) } }
        var options = options
        options.binds = FRRPaths.binds(node: location.node, namespace: location.namespace, recorded: recorded)
        do {
            return try Spawn.start(command, in: namespace, utsFD: utsFD, options: options)
        } catch {
            throw LabError.spawn(error, node: location.node)
        }
    }

    /// Starts `command` inside the node in the background (own session, stdin /dev/null, output
    /// to a log under the lab's state directory), records it and returns at once.
    public static func start(_ command: [String], at location: NodeLocation) throws -> RecordedProcess {
        try Privileges.check(for: "start a process inside a node")
        // The lab's lock: a destroy running now either finishes first (then the lab is gone and
        // this says so) or waits until the process is on record.
        let record = try LabRecord(lab: location.lab, create: false)
        let namespace = try openNamespace(location)
        let recorded = NodeEnvironmentRecord(entries: try record.entries())
        let utsFD = try NodeEnvironment.openUTS(lab: location.lab, node: location.node, recorded: recorded)
        defer { if let utsFD { close(utsFD) } }
        return try NodeProcesses.start(command, origin: "exec", node: location.node, namespace: namespace,
                                       utsFD: utsFD, record: record,
                                       binds: FRRPaths.binds(node: location.node, namespace: location.namespace, recorded: recorded))
    }

    /// The node's namespace, if it is still the one the lab created.
    static func openNamespace(_ location: NodeLocation) throws -> NetworkNamespace {
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace.open(location.namespace)
        } catch let error as NamespaceError {
            throw LabError.refused("node \(location.node) of lab \(location.lab): \(error); `nslab destroy \(location.lab)` and deploy again")
        }
        guard let inode = location.inode, namespace.inode == inode else {
            throw LabError.refused("namespace \(location.namespace) is no longer the one lab \(location.lab) created for node \(location.node)"
                                   + " (removed and made again by someone else?); nslab will not run commands in it")
        }
        return namespace
    }

    /// SIG_IGN is the handler value 1; SIG_DFL is nil.
    private static func isIgnored(_ handler: __sighandler_t?) -> Bool {
        guard let handler else { return false }
        return unsafeBitCast(handler, to: Int.self) == 1
    }
}
