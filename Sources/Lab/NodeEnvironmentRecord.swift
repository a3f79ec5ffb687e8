/// A process nslab started inside a node, as its record has it.
public struct RecordedProcess: Sendable, Equatable {
    /// Where it came from: "topology" (a node's `commands:`) or "exec" (`nslab exec -d`).
    public var origin: String
    public var node: String
    public var pid: Int32
    /// Field 22 of /proc/PID/stat when it started: with the pid, identifies the process even
    /// after the pid has been recycled.
    public var startTicks: UInt64
    public var command: [String]
    public var log: String
    /// Seconds since 1970.
    public var startedAt: Double?
}

/// What a lab's journal says about the insides of its nodes: the /etc/netns directories nslab
/// created, the nodes' UTS namespaces and the processes it started. Folded here rather than in
/// RecordSummary so that the core record stays about namespaces and links.
struct NodeEnvironmentRecord {
    struct Directory {
        var path: String
        /// Names of the files nslab writes into it.
        var files: [String]
        /// nil until the directory's creation was confirmed.
        var inode: UInt64?
    }

    struct UTS {
        var node: String
        var path: String
        var inode: UInt64?
    }

    /// In creation order (/etc/netns itself first when nslab made it).
    var directories: [Directory] = []
    /// In creation order.
    var utsNamespaces: [UTS] = []
    /// The FRR directories of nodes that run FRR (FRRNodes.swift), in creation order.
    var frrDirectories: [FRRDirectory] = []

    struct FRRDirectory {
        var node: String
        var path: String
        var inode: UInt64?
    }
    var processes: [RecordedProcess] = []

    /// The events it is folded from.
    static let events: Set<RecordEntry.Event> = [.etcDirectory, .etcDirectoryCreated, .uts, .utsCreated, .process, .nodeRemoved,
                                                 .frrDirectory, .frrDirectoryCreated]

    init(entries: some Sequence<RecordEntry>) {
        // Positions by path: a 10,000-node lab's 20,000 directory and UTS entries each searched
        // the lists made so far.
        var directoryAt: [String: Int] = [:], frrAt: [String: Int] = [:], utsAt: [String: Int] = [:]
        func reindex() {
            directoryAt = Dictionary(directories.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { first, _ in first })
            frrAt = Dictionary(frrDirectories.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { first, _ in first })
            utsAt = Dictionary(utsNamespaces.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { first, _ in first })
        }
        for entry in entries {
            switch entry.event {
            case .etcDirectory:
                guard let path = entry.path else { break }
                if let index = directoryAt[path] {
                    // A converge that gives the node more files says so again: every name nslab
                    // ever wrote there is one destroy removes.
                    for name in entry.files ?? [] where !directories[index].files.contains(name) {
                        directories[index].files.append(name)
                    }
                } else {
                    directoryAt[path] = directories.count
                    directories.append(Directory(path: path, files: entry.files ?? []))
                }
            case .etcDirectoryCreated:
                if let index = entry.path.flatMap({ directoryAt[$0] }) { directories[index].inode = entry.inode }
            case .frrDirectory:
                if let path = entry.path, let node = entry.node, frrAt[path] == nil {
                    frrAt[path] = frrDirectories.count
                    frrDirectories.append(FRRDirectory(node: node, path: path))
                }
            case .frrDirectoryCreated:
                if let index = entry.path.flatMap({ frrAt[$0] }) { frrDirectories[index].inode = entry.inode }
            case .uts:
                if let path = entry.path, let node = entry.node {
                    if utsAt[path] == nil { utsAt[path] = utsNamespaces.count }
                    utsNamespaces.append(UTS(node: node, path: path))
                }
            case .utsCreated:
                if let index = entry.path.flatMap({ utsAt[$0] }) { utsNamespaces[index].inode = entry.inode }
            case .process:
                if let node = entry.node, let pid = entry.pid, let ticks = entry.startTicks {
                    processes.append(RecordedProcess(origin: entry.name ?? "exec", node: node, pid: pid, startTicks: ticks,
                                                     command: entry.command ?? [], log: entry.path ?? "",
                                                     startedAt: entry.time))
                }
            case .nodeRemoved:
                // Its directory, host name and processes went with it.
                utsNamespaces.removeAll { $0.node == entry.node }
                processes.removeAll { $0.node == entry.node }
                frrDirectories.removeAll { $0.node == entry.node }
                if let namespace = entry.name { directories.removeAll { $0.path == NodeFiles.directory(of: namespace) } }
                reindex()
            case .lab, .namespace, .namespaceCreated, .links, .deployed, .converged, .linkState, .nodeState:
                break
            }
        }
    }

    init(lab: String) {
        self.init(entries: JournalEntries(path: "\(LabRecord.root)/\(lab)/\(LabRecord.journalName)", events: Self.events))
    }

    func uts(of node: String) -> UTS? { utsNamespaces.first { $0.node == node } }

    /// True when nslab made `node`'s FRR directories: its processes see them at FRR's own paths.
    func runsFRR(_ node: String) -> Bool { frrDirectories.contains { $0.node == node && $0.inode != nil } }
}
