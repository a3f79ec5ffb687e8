import Foundation
import Namespaces
import Netlink
import Routing
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// Where a node's FRR lives: FRR's path spaces, /etc/frr/NAMESPACE and /var/run/frr/NAMESPACE,
/// as `vtysh -N NAMESPACE` and `frrinit.sh start NAMESPACE` expect them on the host.
///
/// Inside the node, every process nslab starts sees them at FRR's own paths (/etc/frr,
/// /var/run/frr), bound there in its private mount namespace. The daemons run so, without
/// `-N`: FRR 8.4's ospfd and ospf6d write their graceful-restart state to /var/run/frr/ itself,
/// outside any path space (seen here: ospfd-gr.json, ospf6d-gr.json, ospf6d-at-seq-no.dat),
/// and bound they write it into the node's directory rather than the host's FRR's. `nslab exec
/// r1 -- vtysh` then talks to r1's daemons with no flag, and `vtysh -N NAMESPACE` on the host too.
enum FRRPaths {
    static let configRoot = "/etc/frr"
    static let runRoot = "/var/run/frr"
    static let programs = "/usr/lib/frr"

    static func configDirectory(_ namespace: String) -> String { "\(configRoot)/\(namespace)" }
    static func runDirectory(_ namespace: String) -> String { "\(runRoot)/\(namespace)" }

    static func binds(_ namespace: String) -> [(source: String, target: String)] {
        [(configDirectory(namespace), configRoot), (runDirectory(namespace), runRoot)]
    }

    /// The binds of a recorded node: none unless nslab made its FRR directories.
    static func binds(node: String, namespace: String, recorded: NodeEnvironmentRecord) -> [(source: String, target: String)] {
        recorded.runsFRR(node) ? binds(namespace) : []
    }
}

/// The FRR of a lab's nodes: checked, written, started, removed. Every directory is in the
/// record before it is made and confirmed by inode after; every daemon is a recorded process.
enum FRRNodes {
    /// How long one daemon may take to open its sockets (zebra: 0.07-0.15 s here, unloaded).
    static let startTimeout = 20.0

    // MARK: before anything changes

    /// FRR itself, and the daemons the configurations need.
    static func checkInstalled(_ configs: [FRRNodeConfig]) throws {
        guard !configs.isEmpty else { return }
        var missing: [String] = []
        if access("\(FRRPaths.programs)/zebra", X_OK) != 0 || Spawn.resolve("vtysh") == nil || getpwnam("frr") == nil {
            throw LabError.refused("cannot deploy: frr is not installed (\(counted(configs.count, "node")) \(configs.count == 1 ? "runs" : "run") FRR; "
                                   + "nothing was changed): apt-get install frr")
        }
        for daemon in Set(configs.flatMap(\.daemons)).sorted() where access("\(FRRPaths.programs)/\(daemon)", X_OK) != 0 {
            let users = configs.filter { $0.daemons.contains(daemon) }.map(\.node)
            missing.append("\(FRRPaths.programs)/\(daemon) (for \(users.joined(separator: ", ")))")
        }
        if !missing.isEmpty {
            throw LabError.refused("cannot deploy: FRR daemons are missing (nothing was changed):\n"
                                   + missing.map { "  - \($0)" }.joined(separator: "\n"))
        }
    }

    /// FRR directories someone else holds: a node name taken in /etc/frr by the host's FRR or
    /// another tool is refused rather than shared.
    static func collisions(_ configs: [FRRNodeConfig], topology: Topology, recorded: NodeEnvironmentRecord?) -> [String] {
        var problems: [String] = []
        for config in configs {
            let namespace = topology.namespaceName(of: config.node)
            for path in [FRRPaths.configDirectory(namespace), FRRPaths.runDirectory(namespace)] {
                guard access(path, F_OK) == 0 else { continue }
                if let own = recorded?.frrDirectories.first(where: { $0.path == path }), let inode = own.inode, inodeOf(path) == inode { continue }
                problems.append("\(path) (FRR of node \(config.node)) already exists and nslab did not make it for this lab")
            }
        }
        return problems
    }

    /// `vtysh --dryrun` of the configurations a node's own `frr:` is part of: FRR's own parser
    /// judges them before the lab is built (a bad line would otherwise be found only at start).
    static func checkOwnConfigurations(_ configs: [FRRNodeConfig], topology: Topology) throws {
        var problems: [String] = []
        for config in configs where topology.node(named: config.node)?.frr != nil {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("nslab-frr-\(getpid())-\(config.node).conf").path
            defer { unlink(file) }
            guard FileManager.default.createFile(atPath: file, contents: Data(config.frrConf.utf8)) else { continue }
            let (status, output) = runCollecting(["vtysh", "--dryrun", "--inputfile", file])
            if status != 0 {
                let location = topology.node(named: config.node)?.frr?.location.description ?? config.node
                problems.append("\(location): node \(config.node): FRR does not accept its configuration:\n"
                                + output.split(separator: "\n").map { "      \($0)" }.joined(separator: "\n"))
            }
        }
        if !problems.isEmpty {
            throw LabError.refused("cannot deploy: FRR refuses configuration (nothing was changed):\n"
                                   + problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
    }

    // MARK: making

    /// Both directories of each node (recorded, then made, owned by FRR's user), then the files.
    static func write(_ configs: [FRRNodeConfig], topology: Topology, record: LabRecord) throws {
        guard !configs.isEmpty else { return }
        guard let user = getpwnam("frr") else { throw LabError.refused("frr is not installed: apt-get install frr") }
        let (uid, gid) = (user.pointee.pw_uid, user.pointee.pw_gid)
        if access(FRRPaths.runRoot, F_OK) != 0 {
            // FRR's own run directory, as its init script would make it; left for FRR.
            mkdir(FRRPaths.runRoot, 0o755)
            chown(FRRPaths.runRoot, uid, gid)
        }
        let recorded = NodeEnvironmentRecord(entries: try record.entries())
        var intents: [RecordEntry] = []
        var fresh: [(node: String, path: String)] = []
        for config in configs {
            let namespace = topology.namespaceName(of: config.node)
            // Made again when gone (the node ran FRR before, and stopped).
            for path in [FRRPaths.configDirectory(namespace), FRRPaths.runDirectory(namespace)]
            where !recorded.frrDirectories.contains(where: { $0.path == path && $0.inode != nil && $0.inode == inodeOf(path) }) {
                intents.append(RecordEntry(event: .frrDirectory, node: config.node, path: path))
                fresh.append((config.node, path))
            }
        }
        if !intents.isEmpty { try record.append(intents) }
        var confirmations: [RecordEntry] = []
        for (node, path) in fresh {
            guard mkdir(path, 0o750) == 0 else {
                throw LabError.system(SystemCallError("mkdir \(path)"), context: "making the FRR directories of node \(node)")
            }
            chown(path, uid, gid)
            confirmations.append(RecordEntry(event: .frrDirectoryCreated, node: node, inode: inodeOf(path), path: path))
        }
        if !confirmations.isEmpty { try record.append(confirmations) }
        for config in configs {
            let directory = FRRPaths.configDirectory(topology.namespaceName(of: config.node))
            for (name, content) in config.files {
                let path = "\(directory)/\(name)"
                guard FileManager.default.createFile(atPath: path, contents: Data(content.utf8), attributes: [.posixPermissions: 0o640]) else {
                    throw LabError.refused("cannot write \(path) (FRR of node \(config.node))")
                }
                chown(path, uid, gid)
            }
        }
    }

    /// Starts each node's daemons inside it: every zebra first, and the others once their
    /// zebra listens (one started before would wait 10 s to retry, measured here), then
    /// `vtysh -b` hands each daemon its part of frr.conf. All nodes move through the steps
    /// together, so a hundred routers cost about what one does.
    static func start(_ configs: [FRRNodeConfig], topology: Topology, record: LabRecord,
                      nodes: [(node: Node, namespace: NetworkNamespace)], progress: (ProgressStep) -> Void) throws {
        guard !configs.isEmpty else { return }
        progress("starting FRR on \(counted(configs.count, "node"))")
        let byName = Dictionary(nodes.map { ($0.node.name, $0.namespace) }, uniquingKeysWith: { first, _ in first })
        let recorded = NodeEnvironmentRecord(entries: try record.entries())
        var started: [(config: FRRNodeConfig, namespace: NetworkNamespace, processes: [RecordedProcess])] = []
        for config in configs {
            guard let namespace = byName[config.node] else { continue }
            started.append((config, namespace, []))
            removeStaleSockets(of: namespace.name)
        }
        func launch(_ daemon: String, _ index: Int) throws {
            let (config, namespace, _) = started[index]
            let utsFD = try NodeEnvironment.openUTS(lab: topology.name, node: config.node, recorded: recorded)
            defer { if let utsFD { close(utsFD) } }
            var argv = ["\(FRRPaths.programs)/\(daemon)", "-P", "0"]  // no vty on TCP: vtysh uses the socket
            if daemon == "zebra" { argv += ["-s", "16777216"] }  // netlink buffer for big route tables
            let process = try NodeProcesses.start(argv, origin: "frr", node: config.node, namespace: namespace, utsFD: utsFD,
                                                  record: record, binds: FRRPaths.binds(namespace.name),
                                                  log: "\(config.node)-frr-\(daemon)")
            started[index].processes.append(process)
        }
        for index in started.indices { try launch("zebra", index) }
        try awaitSockets(started.map { ($0.config, $0.namespace.name, ["zserv.api", "zebra.vty"], $0.processes) })
        for index in started.indices {
            for daemon in started[index].config.daemons where daemon != "zebra" { try launch(daemon, index) }
        }
        try awaitSockets(started.map { entry in
            (entry.config, entry.namespace.name, entry.config.daemons.map { "\($0).vty" }, entry.processes)
        })
        try Interruption.check()
        try applyConfigurations(started.map { ($0.config, $0.namespace) }, lab: topology.name, recorded: recorded)
    }

    /// The sockets daemons that ended left in a node's run directory (FRR removes them only when
    /// it exits by itself): the start waits for each socket to appear, and an old one would let
    /// `vtysh -b` run before the new daemons listen. It then configures nothing and exits 0
    /// (seen here: a node stopped and started again came back with FRR running unconfigured).
    private static func removeStaleSockets(of namespace: String) {
        for name in ["zserv.api"] + FRRDaemons.all.map({ "\($0).vty" }) {
            _ = unlink("\(FRRPaths.runDirectory(namespace))/\(name)")
        }
    }

    /// Waits until every listed socket exists in each node's run directory; a daemon that
    /// exits first fails the start with the end of its log.
    private static func awaitSockets(_ nodes: [(config: FRRNodeConfig, namespace: String, sockets: [String], processes: [RecordedProcess])]) throws {
        let deadline = Date().addingTimeInterval(startTimeout)
        var waiting = nodes
        while !waiting.isEmpty {
            waiting.removeAll { node in
                node.sockets.allSatisfy { access("\(FRRPaths.runDirectory(node.namespace))/\($0)", F_OK) == 0 }
            }
            for node in waiting {
                if let dead = node.processes.first(where: { !NodeProcesses.isRunning($0) }) {
                    throw LabError.refused("FRR's \(dead.command.first.map { ($0 as NSString).lastPathComponent } ?? "daemon") on node "
                                           + "\(node.config.node) exited at start:\n" + tail(of: dead.log))
                }
            }
            if waiting.isEmpty { break }
            if Date() > deadline {
                let names = waiting.map(\.config.node).joined(separator: ", ")
                throw LabError.refused("FRR did not start within \(Int(startTimeout)) s on \(names) (logs under \(LabRecord.root)/…/logs)")
            }
            try Interruption.check()
            usleep(5_000)
        }
    }

    /// `vtysh -b` in every node at once, each reading its own frr.conf through the binds.
    private static func applyConfigurations(_ nodes: [(config: FRRNodeConfig, namespace: NetworkNamespace)], lab: String,
                                            recorded: NodeEnvironmentRecord) throws {
        var running: [(node: String, pid: pid_t, log: String)] = []
        for (config, namespace) in nodes {
            let log = "\(NodeProcesses.logDirectory(of: lab))/\(config.node)-frr-vtysh.log"
            let output = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard output >= 0 else { throw LabError.system(SystemCallError("open \(log)"), context: "configuring FRR on \(config.node)") }
            defer { close(output) }
            let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { if input >= 0 { close(input) } }
            let utsFD = try NodeEnvironment.openUTS(lab: lab, node: config.node, recorded: recorded)
            defer { if let utsFD { close(utsFD) } }
            do {
                let pid = try Spawn.start(["vtysh", "-b"], in: namespace, utsFD: utsFD,
                                          options: SpawnOptions(standardIO: (input, output, output), closeOtherDescriptors: true,
                                                                binds: FRRPaths.binds(namespace.name)))
                running.append((config.node, pid, log))
            } catch {
                throw LabError.spawn(error, node: config.node)
            }
        }
        var failures: [String] = []
        for (node, pid, log) in running where Spawn.wait(for: pid) != 0 {
            failures.append("node \(node): `vtysh -b` failed:\n" + tail(of: log))
        }
        if !failures.isEmpty {
            throw LabError.refused("FRR refused configuration:\n" + failures.joined(separator: "\n"))
        }
    }

    // MARK: removing

    /// Destroy, once the daemons have ended: each directory nslab made, if it is still the one
    /// it made (same inode), with what FRR put in it (sockets, pid files, its state).
    static func remove(_ directories: [NodeEnvironmentRecord.FRRDirectory]) {
        for directory in directories.reversed() {
            guard let inode = directory.inode, inodeOf(directory.path) == inode else { continue }
            if let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) {
                for name in names { _ = unlink("\(directory.path)/\(name)") }
            }
            _ = rmdir(directory.path)
        }
    }

    // MARK: helpers

    static func inodeOf(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    /// The last lines of a log, indented, for an error message.
    static func tail(of log: String, lines: Int = 8) -> String {
        let text = NodeEnvironment.readWhole(log) ?? ""
        let last = text.split(separator: "\n").suffix(lines)
        return (last.isEmpty ? ["(its log \(log) is empty)"] : last.map(String.init)).map { "    \($0)" }.joined(separator: "\n")
    }

    /// Runs a host program to its end, returning its status and output (stdout and stderr).
    static func runCollecting(_ argv: [String]) -> (status: Int32, output: String) {
        let run = HostProgram.run(argv, mergingErrors: true)
        return (run.status, run.outputText + run.errorText)
    }
}

extension FRRNodes {
    /// Converging (a `~ frr` or `+ frr` change, ConvergeRun): each node's FRR started with the
    /// given files and daemons, its daemons that run ended first. FRR is restarted rather than
    /// reloaded: frr-reload.py (a Python tool with its own dependencies) is not in every FRR
    /// package, and a restart gives exactly what a fresh deploy gives, which converging promises;
    /// the lab's timers bring adjacencies back within seconds. All nodes start together, as at deploy.
    static func restart(_ configs: [FRRNodeConfig], topology: Topology, record: LabRecord,
                        progress: (ProgressStep) -> Void = { _ in }) throws {
        guard !configs.isEmpty else { return }
        try checkInstalled(configs)
        let names = Set(configs.map(\.node))
        try end(nodes: names, record: record)
        try write(configs, topology: topology, record: record)
        let summary = try record.summary()
        var opened: [(node: Node, namespace: NetworkNamespace)] = []
        for config in configs {
            let name = topology.namespaceName(of: config.node)
            guard let node = topology.node(named: config.node), let inode = summary.inodes[name],
                  let namespace = try? NetworkNamespace.open(name), namespace.inode == inode else {
                throw LabError.refused("node \(config.node) of lab \(topology.name) is gone or no longer nslab's; run `nslab deploy` again")
            }
            opened.append((node, namespace))
        }
        try start(configs, topology: topology, record: record, nodes: opened, progress: progress)
    }

    /// Ends the FRR daemons of `nodes` that run, as recorded.
    static func end(nodes: Set<String>, record: LabRecord) throws {
        let recorded = NodeEnvironmentRecord(entries: try record.entries(NodeEnvironmentRecord.events))
        _ = NodeProcesses.endRunning(recorded.processes.filter { $0.origin == "frr" && nodes.contains($0.node) })
    }

    /// A node that no longer runs FRR (`- frr`): its daemons ended, its directories removed.
    static func remove(node: String, record: LabRecord) throws {
        try end(nodes: [node], record: record)
        let recorded = NodeEnvironmentRecord(entries: try record.entries(NodeEnvironmentRecord.events))
        remove(recorded.frrDirectories.filter { $0.node == node })
    }
}
