import Foundation
import Netlink
import Namespaces
import Topology

public struct DestroyResult: Sendable {
    public var lab: String
    /// False when there was no record: nothing to do.
    public var existed: Bool
    public var namespacesRemoved: [String]
    /// Namespaces the record names that are now someone else's (another inode): left alone.
    public var namespacesSkipped: [String]
    public var processesEnded: Int
}

public enum LabDestroyer {
    /// What to do with a namespace the record announced but never confirmed (nslab died between
    /// creating it and writing its inode down).
    public enum Unconfirmed: Sendable {
        /// A rollback: this process knows it confirmed everything it made.
        case keep
        /// Crash recovery: remove it if it looks like nslab's (only lo, or interfaces with the lab's alias).
        case removeIfOurs
    }

    /// Destroys a lab by name, from its record alone: the topology file is not needed.
    public static func destroy(lab: String, progress: (ProgressStep) -> Void = { _ in }) throws -> DestroyResult {
        try LabRecord.validate(lab: lab)
        guard LabRecord.exists(lab: lab) || FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab)") else {
            return DestroyResult(lab: lab, existed: false, namespacesRemoved: [], namespacesSkipped: [], processesEnded: 0)
        }
        try Privileges.check(for: "destroy a lab")
        let record: LabRecord
        do {
            record = try LabRecord(lab: lab, create: false)
        } catch LabError.notDeployed {
            // Another destroy removed it while this one waited for the lock.
            return DestroyResult(lab: lab, existed: false, namespacesRemoved: [], namespacesSkipped: [], processesEnded: 0)
        }
        return try destroy(record: record, unconfirmed: .removeIfOurs, progress: progress)
    }

    public static func destroyAll(progress: (ProgressStep) -> Void = { _ in }) throws -> [DestroyResult] {
        try LabRecord.labs().map { try destroy(lab: $0, progress: progress) }
    }

    static func destroy(record: LabRecord, unconfirmed: Unconfirmed, progress: (ProgressStep) -> Void = { _ in }) throws -> DestroyResult {
        // At 1,000 nodes the journal has 6,000 lines: only the namespaces' are decoded before the
        // namespaces go, the nodes' insides' after, while the kernel frees the namespaces.
        let summary = RecordSummary(lab: record.lab, entries: try record.entries(RecordSummary.events))
        var result = DestroyResult(lab: record.lab, existed: true, namespacesRemoved: [], namespacesSkipped: [],
                                   processesEnded: 0)
        var doomed: [(name: String, inode: UInt64)] = []
        for entry in summary.namespaces.reversed() {
            guard let mounted = NamedNamespaces.inode(of: entry.name) else {
                // Nothing mounted: at most our own O_EXCL placeholder from an interrupted create.
                if summary.inodes[entry.name] != nil || unconfirmed == .removeIfOurs {
                    try? NamedNamespaces.delete(entry.name)
                }
                continue
            }
            if let recorded = summary.inodes[entry.name] {
                guard recorded == mounted else {
                    result.namespacesSkipped.append(entry.name)
                    continue
                }
            } else if unconfirmed == .keep || !looksLikeOurs(namespace: entry.name, lab: record.lab) {
                result.namespacesSkipped.append(entry.name)
                continue
            }
            doomed.append((entry.name, mounted))
        }
        // Processes inside keep a namespace and its veths alive after it is unmounted: end them
        // all first, in one pass over /proc for the whole lab.
        progress("lab \(record.lab): ending the processes in \(counted(doomed.count, "namespace"))")
        result.processesEnded = NamespaceProcesses.terminateAll(inNamespacesWithInodes: Set(doomed.map(\.inode)))
        let nodes = Dictionary(summary.namespaces.map { ($0.name, $0.node) }, uniquingKeysWith: { first, _ in first })
        emptyIPv6Tables(doomed.filter { (summary.interfaceCounts[nodes[$0.name] ?? ""] ?? 0) >= manyInterfaces })
        // Unmounting waits on the kernel more than it computes: a few threads at once.
        progress("lab \(record.lab): removing \(counted(doomed.count, "namespace"))")
        do {
            result.namespacesRemoved = try NamespaceThread.forEach(doomed, threads: removalThreads) { namespace in
                try NamedNamespaces.delete(namespace.name)
                return namespace.name
            }
        } catch let error as NamespaceError {
            throw LabError.namespace(error)
        }
        progress("lab \(record.lab): removing the nodes' files and host names")
        result.processesEnded += NodeEnvironment.tearDown(record: record,
                                                          entries: (try? record.entries(NodeEnvironmentRecord.events)) ?? [])
        record.remove()
        return result
    }

    static let removalThreads = 4

    /// From this many interfaces on, a node's IPv6 routes are deleted before it is released.
    static let manyInterfaces = 100

    /// The kernel takes a dying namespace's interfaces down one by one, and each walks the whole
    /// IPv6 routing table of the namespace: quadratic in a node with many interfaces (a
    /// 1,000-leaf star's hub, 2,000 routes, cost the kernel's cleanup 60-70 ms). Emptied first,
    /// one dump and one batch (10 ms), the table leaves those walks nothing to do.
    static func emptyIPv6Tables(_ namespaces: [(name: String, inode: UInt64)]) {
        _ = try? NamespaceThread.forEach(namespaces, threads: 2) { doomed in
            guard let namespace = try? NetworkNamespace.open(doomed.name), namespace.inode == doomed.inode else { return }
            try namespace.enter()  // this worker thread is ours and exits when they are done
            let socket = try NetlinkSocket()
            let routes = try socket.routesInEveryTable(family: AddressFamily.inet6)
            // Refusals (a route gone with another) change nothing: the namespace goes next.
            try? socket.execute(routes.map { RouteRequest.delete($0, describedAs: $0.destination.description) })
        }
    }

    /// An unconfirmed namespace is ours if its loopback carries this lab's alias, or if it holds
    /// nothing but an untagged loopback (nslab died right after creating it).
    static func looksLikeOurs(namespace name: String, lab: String) -> Bool {
        guard let namespace = try? NetworkNamespace.open(name),
              let links = try? namespace.run({ try NetlinkSocket().links() }),
              let loopback = links.first(where: \.isLoopback) else { return false }
        if let alias = loopback.alias { return alias.hasPrefix("nslab:\(lab)/") }
        return links.count == 1
    }
}
