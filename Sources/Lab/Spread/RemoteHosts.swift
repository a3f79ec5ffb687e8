import Foundation
import Namespaces
import Synchronization
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// A machine of a spread lab as the controller reaches it: OpenSSH, nothing else. nslab opens no
/// port of its own; everything a host does is its own nslab run by ssh.
public struct RemoteHost: Sendable, Hashable {
    public var name: String
    /// What ssh is given (user@address or an alias of the user's ssh configuration).
    public var ssh: String
    /// nslab on that machine.
    public var command: String

    public init(_ host: LabHost) {
        name = host.name; ssh = host.ssh; command = host.command ?? "nslab"
    }
}

/// What a host's run of a command gave.
public struct HostOutcome: Sendable {
    /// nil: the machine nslab runs on.
    public var host: String?
    public var status: Int32
    public var output: String
    public var error: String

    public var succeeded: Bool { status == 0 }
    /// ssh itself failed (exit status 255): the host was not reached, or the connection was lost.
    public var unreachable: Bool { status == 255 }

    /// The last line of what it said on stderr, for a one-line message.
    public var reason: String {
        let lines = error.split(separator: "\n").map { String($0) }.filter { !$0.isEmpty }
        return lines.last ?? (status == 0 ? "" : "exit status \(status)")
    }
}

/// Whose shared ssh connections a command uses. Short commands share `commands`, and each closes
/// them at its end; a follower that runs until it is stopped (`events`, `serve`) owns connections
/// of its own, so that another command closing its connections does not cut the follower's streams.
public struct SSHConnections: Sendable, Hashable {
    /// The control socket's name in `RemoteHosts.controlDirectory` (ssh expands %C per destination).
    let socketName: String

    public static let commands = SSHConnections(socketName: "%C-\(networkNamespace)")

    /// Connections of this process alone, closed by it with `RemoteHosts.closeConnections`.
    public static func owned() -> SSHConnections { SSHConnections(socketName: "%C-\(networkNamespace)-\(getpid())") }

    /// The network namespace nslab runs in, by inode. %C names a destination by this machine's
    /// host name, the address and the user; simulated hosts (scripts/sim-hosts.sh) share /tmp and
    /// the host name, and every simulation has its hosts at the same addresses: without it, a
    /// command on one simulated machine would use another's connection, to another's host.
    static let networkNamespace: UInt64 = {
        var info = stat()
        return stat("/proc/self/ns/net", &info) == 0 ? UInt64(info.st_ino) : 0
    }()
}

/// Runs nslab on other machines over ssh: in parallel, one connection per host shared by every
/// command of a run (ControlMaster), so a many-host lab pays one handshake per host, not one per
/// command. Non-interactive (BatchMode): a host that asks for a password fails at once.
public enum RemoteHosts {
    /// Where the shared connections' sockets live: private to the user, one per destination.
    static var controlDirectory: String { "/tmp/nslab-ssh-\(getuid())" }

    static func sshOptions(_ connections: SSHConnections = .commands) -> [String] {
        ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
         "-o", "ControlMaster=auto", "-o", "ControlPath=\(controlDirectory)/\(connections.socketName)", "-o", "ControlPersist=60"]
    }

    /// `arguments` of the host's nslab, as one line for its shell, every word quoted.
    static func commandLine(_ host: RemoteHost, _ arguments: [String]) -> String {
        ([host.command] + arguments).map(LabScript.shellWord).joined(separator: " ")
    }

    /// Runs a shell line on `host` (its own nslab, or a plain command), with `input` on its stdin.
    public static func run(_ host: RemoteHost, line: String, input: Data? = nil, via connections: SSHConnections = .commands) -> HostOutcome {
        mkdir(controlDirectory, 0o700)
        let run = HostProgram.run(["ssh"] + sshOptions(connections) + [host.ssh, "--", line], input: input)
        var error = run.errorText
        if run.status == 255, error.isEmpty { error = "ssh \(host.ssh) failed" }
        return HostOutcome(host: host.name, status: run.status, output: run.outputText, error: error)
    }

    /// The host's nslab with `arguments`.
    public static func nslab(_ host: RemoteHost, _ arguments: [String], input: Data? = nil,
                             via connections: SSHConnections = .commands) -> HostOutcome {
        run(host, line: commandLine(host, arguments), input: input, via: connections)
    }

    /// The host's nslab with `arguments`, its input, output and errors this process's own (a
    /// terminal when this one has one, for `exec` and `capture`): its exit status.
    public static func attach(_ host: RemoteHost, _ arguments: [String]) -> Int32 {
        mkdir(controlDirectory, 0o700)
        let terminal = isatty(0) == 1 && isatty(1) == 1
        let argv = ["ssh"] + sshOptions() + (terminal ? ["-t", "-o", "LogLevel=QUIET"] : []) + [host.ssh, "--", commandLine(host, arguments)]
        guard let path = Spawn.resolve("ssh") else { return 127 }
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, nil, nil, cArgs, environ) == 0 else { return 127 }
        let status = Spawn.wait(for: pid)
        closeConnections([host])
        return status
    }

    /// `body` for every host (or anything else done per host) at once; results in their order.
    public static func each<Item: Sendable, T: Sendable>(_ items: [Item], _ body: @Sendable (Item) -> T) -> [T] {
        let results = Mutex([T?](repeating: nil, count: items.count))
        DispatchQueue.concurrentPerform(iterations: items.count) { index in
            let result = body(items[index])
            results.withLock { $0[index] = result }
        }
        return results.withLock { $0.map { $0! } }
    }

    /// Ends the shared connections: no ssh process outlives the command that started it.
    public static func closeConnections(_ hosts: [RemoteHost], of connections: SSHConnections = .commands) {
        _ = each(hosts) { host in
            HostProgram.run(["ssh"] + sshOptions(connections) + ["-O", "exit", host.ssh])
        }
    }
}
