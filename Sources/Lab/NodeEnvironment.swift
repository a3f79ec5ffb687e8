import Foundation
import Namespaces
import Netlink
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// The insides of a lab's nodes: host names (a UTS namespace per node), per-node /etc files,
/// and the processes nslab starts. Deploy, destroy and inspect call in here at one point each.
enum NodeEnvironment {
    static func utsDirectory(of lab: String) -> String { "\(LabRecord.root)/\(lab)/uts" }
    static func utsPath(lab: String, node: String) -> String { "\(utsDirectory(of: lab))/\(node)" }

    /// Deploy, before anything changes: /etc/netns directories someone else holds (returned, to
    /// be reported with the other names taken), and declared files that have nothing in /etc to
    /// be bound over (thrown).
    static func collisions(_ topology: Topology, checkingDirectoriesOf nodes: [Node]? = nil) throws -> [String] {
        let missing = NodeFiles.missingTargets(topology)
        if !missing.isEmpty {
            throw LabError.refused("cannot deploy: per-node files need a file of the same name in /etc to be bound over "
                                   + "(nothing was changed):\n" + missing.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let unknown = unknownPrograms(topology)
        if !unknown.isEmpty {
            throw LabError.refused("cannot deploy: commands name programs that are not installed (nothing was changed):\n"
                                   + unknown.map { "  - \($0)" }.joined(separator: "\n"))
        }
        var fresh = topology
        if let nodes { fresh.nodes = nodes }
        return NodeFiles.collisions(fresh)
    }

    /// The list form of a command names its program: found through PATH now, or the lab would be
    /// built only to be torn down again. (A shell line's programs are the shell's business: it
    /// reports them in the log.)
    static func unknownPrograms(_ topology: Topology) -> [String] {
        topology.nodes.flatMap { node in
            node.commands.compactMap { command -> String? in
                guard let program = command.argv.first, Spawn.resolve(program) == nil else { return nil }
                return "\(command.location): node \(node.name): \(program) not found (searched PATH)"
            }
        }
    }

    /// Deploy, before the namespaces: the directory of the nodes' UTS namespaces, every intent to
    /// create one, and the files they are mounted on, all made at once (see MountPointFiles); each
    /// is created with its network namespace, on the same thread (`createHostName`). A failure
    /// later removes them with the rest of the lab.
    static func prepareHostNames(_ topology: Topology, only subset: [Node]? = nil, record: LabRecord) throws {
        let directory = utsDirectory(of: topology.name)
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw LabError.system(SystemCallError("mkdir \(directory)"), context: "creating the nodes' host names")
        }
        let nodes = subset ?? topology.nodes
        // A converge adding nodes to a running lab: its tmpfs is mounted already (another one on
        // top would hide the host names of the nodes there).
        if subset != nil, mountPoints(under: directory).contains(directory) {
            return try reserveHostNames(nodes, lab: topology.name, record: record)
        }
        // The mount points sit on a tmpfs of the lab's own, so destroy unmounts it and every
        // node's UTS mount with it at once: each unmount waits for an RCU grace period, and one
        // per node took 0.2-0.5 s for 1,000 nodes. (Files on it cost no disk inodes either.)
        // A mount namespace someone copies privately while the lab runs keeps its copies of
        // these until it ends: only host names, no network.
        guard mount("tmpfs", directory, "tmpfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), "mode=0755") == 0 else {
            throw LabError.system(SystemCallError("mount tmpfs on \(directory)"), context: "creating the nodes' host names")
        }
        try reserveHostNames(nodes, lab: topology.name, record: record)
    }

    /// The intents and the mount point files of the nodes' UTS namespaces.
    private static func reserveHostNames(_ nodes: [Node], lab: String, record: LabRecord) throws {
        let paths = nodes.map { utsPath(lab: lab, node: $0.name) }
        try record.append(zip(nodes, paths).map { RecordEntry(event: .uts, node: $0.name, path: $1) })
        do {
            _ = try MountPointFiles.create(paths)
        } catch .exists(let path) {
            throw LabError.refused("cannot deploy: \(path) already exists; the lab's state directory holds files nslab did not expect (run `nslab destroy \(lab)`)")
        } catch .system(let error, _) {
            throw LabError.system(error, context: "creating the nodes' host names")
        }
    }

    /// Inside a new node's namespace-creating thread: its UTS namespace with its host name, and
    /// the record entry confirming it (to be appended with the namespace's own).
    static func createHostName(lab: String, node: String) throws -> RecordEntry {
        let path = utsPath(lab: lab, node: node)
        do {
            let inode = try UTSNamespace.createOnThisThread(hostname: node, at: path, reserved: true)
            return RecordEntry(event: .utsCreated, node: node, inode: inode, path: path)
        } catch let error as SystemCallError {
            throw LabError.system(error, context: "setting the host name of node \(node)")
        }
    }

    /// Deploy, once every link and route is in place and the /etc files are written: each
    /// node's `commands:` (last, so they find the network complete).
    /// Each node's namespace is opened for its commands and closed after them.
    static func startCommands(_ topology: Topology, record: LabRecord, nodes: [DeployedNode],
                              progress: (ProgressStep) -> Void) throws {
        let starting = nodes.filter { !$0.node.commands.isEmpty }
        guard !starting.isEmpty else { return }
        progress("starting \(counted(starting.reduce(0) { $0 + $1.node.commands.count }, "command"))")
        // The record read once: read per node it cost a lab with commands everywhere
        // O(nodes²) (every read parses the whole journal).
        let recorded = NodeEnvironmentRecord(entries: try record.entries())
        for deployed in starting {
            let node = deployed.node
            let namespace = try deployed.namespace.open()
            let utsFD = try openUTS(lab: topology.name, node: node.name, recorded: recorded)
            defer { if let utsFD { close(utsFD) } }
            for command in node.commands {
                _ = try NodeProcesses.start(command.argv, origin: "topology", node: node.name, namespace: namespace,
                                            utsFD: utsFD, record: record,
                                            binds: FRRPaths.binds(node: node.name, namespace: namespace.name, recorded: recorded))
            }
        }
    }

    /// An fd of the node's UTS namespace if it is still the recorded one; nil for a lab
    /// deployed before nodes had host names.
    static func openUTS(lab: String, node: String, recorded: NodeEnvironmentRecord) throws -> Int32? {
        guard let uts = recorded.uts(of: node), let inode = uts.inode else { return nil }
        return UTSNamespace.open(at: uts.path, inode: inode)
    }

    /// Destroy (and a failed deploy's rollback), after the namespaces are gone and before the
    /// record is: the recorded processes that still run, the UTS mounts, the /etc files.
    /// Returns how many processes had to be ended here.
    static func tearDown(record: LabRecord, entries: [RecordEntry]) -> Int {
        let recorded = NodeEnvironmentRecord(entries: entries)
        let ended = NodeProcesses.endRunning(recorded.processes)
        // Under the lab's own directory: nslab's whatever is mounted there. The tmpfs the UTS
        // mounts are on goes with all of them in one unmount; one by one only if it was never
        // mounted (a deploy that stopped before).
        if umount2(utsDirectory(of: record.lab), Int32(MNT_DETACH)) != 0 {
            _ = try? NamespaceThread.forEach(Array(recorded.utsNamespaces.reversed()), threads: LabDestroyer.removalThreads) {
                UTSNamespace.remove(at: $0.path)
            }
        }
        // And whatever else is mounted there, recorded or not (a journal lost or cut short by a
        // crash): without this the lab's directory could never be removed.
        for path in mountPoints(under: "\(LabRecord.root)/\(record.lab)/").reversed() { UTSNamespace.remove(at: path) }
        NodeFiles.remove(recorded.directories)
        FRRNodes.remove(recorded.frrDirectories)
        return ended
    }

    /// Mount points below `prefix`, from the kernel's mount table (octal escapes decoded).
    static func mountPoints(under prefix: String) -> [String] {
        guard let table = readWhole("/proc/self/mounts") else { return [] }
        return table.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            let path = decodeMountEscapes(String(fields[1]))
            return path.hasPrefix(prefix) ? path : nil
        }
    }

    /// A file read to its end. /proc files report size 0 and are made a page per read: Foundation's
    /// String(contentsOfFile:) returned only the first 4 KiB of /proc/self/mounts (measured: 4,060
    /// of 27,137 bytes with a 300-node lab up), so mount points past it went unseen.
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readToEnd(fd).map { String(decoding: $0, as: UTF8.self) }
    }

    /// /proc/self/mounts writes space, tab, newline and backslash as \040, \011, \012, \134.
    private static func decodeMountEscapes(_ text: String) -> String {
        var out = ""
        var scalars = Array(text.unicodeScalars)[...]
        while let first = scalars.first {
            if first == "\\", scalars.count >= 4, let value = UInt32(String(String.UnicodeScalarView(scalars.dropFirst().prefix(3))), radix: 8),
               let decoded = Unicode.Scalar(value) {
                out.unicodeScalars.append(decoded)
                scalars = scalars.dropFirst(4)
            } else {
                out.unicodeScalars.append(first)
                scalars = scalars.dropFirst()
            }
        }
        return out
    }

    /// Inspect: each node's processes and /etc files.
    static func annotate(_ nodes: [NodeState], lab: String) -> [NodeState] {
        let recorded = NodeEnvironmentRecord(lab: lab)
        let formatter = ISO8601DateFormatter()
        // By node and by path, not searched per node (10,000 nodes: 10,000 searches of as many).
        let processes = Dictionary(grouping: recorded.processes, by: \.node)
        let directories = Dictionary(recorded.directories.filter { $0.inode != nil }.map { ($0.path, $0) },
                                     uniquingKeysWith: { first, _ in first })
        let uts = Dictionary(recorded.utsNamespaces.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        return nodes.map { state in
            var state = state
            state.processes = (processes[state.name] ?? []).map { process in
                let running = NodeProcesses.isRunning(process)
                return ProcessState(pid: process.pid, command: process.command, origin: process.origin, log: process.log,
                                    startedAt: process.startedAt.map { formatter.string(from: Date(timeIntervalSince1970: $0)) },
                                    state: running ? "running" : "exited", running: running)
            }
            let directory = NodeFiles.directory(of: state.namespace)
            state.files = directories[directory].map { dir in dir.files.map { "\(directory)/\($0)" } } ?? []
            state.hostname = uts[state.name]?.inode == nil ? nil : state.name
            return state
        }
    }
}

/// A process nslab started inside a node, as `inspect` shows it.
public struct ProcessState: Codable, Sendable {
    public var pid: Int32
    public var command: [String]
    /// "topology" (the node's `commands:`) or "exec" (`nslab exec -d`).
    public var origin: String
    /// Its stdout and stderr.
    public var log: String
    /// ISO 8601, UTC.
    public var startedAt: String?
    /// "running" or "exited". Exit statuses are not known: nslab is not the parent that could
    /// collect them once the command that started the process has returned.
    public var state: String
    public var running: Bool
}
