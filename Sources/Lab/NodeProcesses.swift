import Foundation
import Namespaces
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// Background processes inside nodes: a node's `commands:` at deploy, and `nslab exec -d`.
/// Each runs in its own session with stdin from /dev/null and stdout+stderr appended to a log
/// under /run/nslab/LAB/logs/, and is recorded with its pid and start time. Nobody reaps them
/// once nslab has exited (init does), so their exit status is unknown; `inspect` tells running
/// from exited by the pid and start time.
enum NodeProcesses {
    static func logDirectory(of lab: String) -> String { "\(LabRecord.root)/\(lab)/logs" }

    /// Starts `argv` inside the node and records it. The caller holds the lab's record (its lock).
    /// `binds`: directories the process sees over others (a node's FRR, FRRPaths). `log`: the
    /// log's name when the caller names it; otherwise NODE-N-PROGRAM.
    static func start(_ argv: [String], origin: String, node: String, namespace: NetworkNamespace, utsFD: Int32?,
                      record: LabRecord, binds: [(source: String, target: String)] = [], log logName: String? = nil) throws -> RecordedProcess {
        let directory = logDirectory(of: record.lab)
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw LabError.system(SystemCallError("mkdir \(directory)"), context: "starting a process in node \(node)")
        }
        let log: String
        if let logName {
            log = "\(directory)/\(logName).log"
        } else {
            let earlier = NodeEnvironmentRecord(entries: try record.entries()).processes.filter { $0.node == node }.count
            log = "\(directory)/\(node)-\(earlier + 1)-\(logLabel(argv)).log"
        }
        let output = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw LabError.system(SystemCallError("open \(log)"), context: "starting a process in node \(node)") }
        defer { close(output) }
        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw LabError.system(SystemCallError("open /dev/null"), context: "starting a process in node \(node)") }
        defer { close(input) }
        // A service-like start: own session (no terminal, no job-control signals from nslab's
        // shell), default dispositions for the signals a caller commonly ignores, no inherited fds.
        let options = SpawnOptions(standardIO: (input, output, output), newSession: true, closeOtherDescriptors: true,
                                   defaultSignals: [SIGINT, SIGQUIT, SIGPIPE], binds: binds)
        let pid: pid_t
        do {
            pid = try Spawn.start(argv, in: namespace, utsFD: utsFD, options: options)
        } catch {
            throw LabError.spawn(error, node: node)
        }
        let started = RecordedProcess(origin: origin, node: node, pid: pid, startTicks: startTicks(of: pid) ?? 0,
                                      command: argv, log: log, startedAt: Date().timeIntervalSince1970)
        try record.append([RecordEntry(event: .process, time: started.startedAt, name: origin, node: node, path: log,
                                       pid: pid, startTicks: started.startTicks, command: argv)])
        return started
    }

    /// A word for the log's name: the program (for `sh -c LINE`, the line's first word).
    static func logLabel(_ argv: [String]) -> String {
        var program = argv.first ?? "command"
        if argv.count >= 3, argv[0] == "/bin/sh", argv[1] == "-c" {
            program = argv[2].split(whereSeparator: \.isWhitespace).first.map(String.init) ?? "sh"
        }
        let base = program.split(separator: "/").last.map(String.init) ?? program
        let safe = String(base.unicodeScalars.filter { HostsFile.isHostNameCharacter($0) }.prefix(32))
        return safe.isEmpty ? "command" : safe
    }

    /// Field 22 of /proc/PID/stat (start time in clock ticks after boot), nil if there is no
    /// such process. Fields are counted after the last ')': the command name may hold anything.
    static func startTicks(of pid: pid_t) -> UInt64? {
        procStat(pid).flatMap { $0.count > 19 ? UInt64($0[19]) : nil }
    }

    /// Fields 3… of /proc/PID/stat.
    private static func procStat(_ pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Still the process nslab started, and not a zombie or dead.
    static func isRunning(_ process: RecordedProcess) -> Bool {
        guard let fields = procStat(process.pid), fields.count > 19, UInt64(fields[19]) == process.startTicks else { return false }
        return fields[0] != "Z" && fields[0] != "X"
    }

    /// Ends the recorded processes that still run, politely then by force. Destroy has already
    /// ended everything inside the lab's namespaces; this catches those whose namespace was
    /// removed or replaced behind nslab's back (a process there keeps its old namespace alive).
    static func endRunning(_ processes: [RecordedProcess], grace: Double = 2.0) -> Int {
        let running = processes.filter(isRunning)
        return NamespaceProcesses.terminate(running.map(\.pid), grace: grace) { pid in
            running.contains { $0.pid == pid && isRunning($0) }
        }
    }
}
