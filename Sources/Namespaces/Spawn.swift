import CShims
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// A program that could not be started inside a node.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    /// What failed: "exec", "setns(net)", "mount /sys", or "no such command" for a PATH miss.
    public var message: String
    /// The errno of the failed step (ENOENT for a command not found).
    public var code: Int32
    public var program: String

    public var description: String { "cannot run \(program) inside the node: \(message)" }

    /// The shell's convention: 127 for a command not found, 126 for one that cannot be executed.
    public var exitStatus: Int32 {
        switch code {
        case ENOENT: return 127
        case EACCES, ENOEXEC, EISDIR, EPERM: return 126
        default: return 1
        }
    }
}

/// How a process inside a node is started. What differs between `nslab exec` in the foreground
/// (inherit the terminal, stay in its process group) and a background process (own session,
/// stdio to a log, no inherited fds).
public struct SpawnOptions: Sendable {
    /// stdin, stdout, stderr; nil inherits the caller's.
    public var standardIO: (input: Int32, output: Int32, error: Int32)?
    public var newSession: Bool
    public var closeOtherDescriptors: Bool
    /// Put back to SIG_DFL in the child: the dispositions the parent changed for itself.
    public var defaultSignals: [Int32]
    /// Directories bound over others in the child's private mount namespace (source, target).
    public var binds: [(source: String, target: String)]

    public init(standardIO: (input: Int32, output: Int32, error: Int32)? = nil, newSession: Bool = false,
                closeOtherDescriptors: Bool = false, defaultSignals: [Int32] = [], binds: [(source: String, target: String)] = []) {
        self.standardIO = standardIO; self.newSession = newSession
        self.closeOtherDescriptors = closeOtherDescriptors; self.defaultSignals = defaultSignals; self.binds = binds
    }
}

/// Starts programs inside a network namespace exactly as `ip netns exec` does, through the C
/// helper (fork → setns → own mount namespace, fresh /sys, /etc/netns binds → execve): the
/// setns happens in the forked child, never on a thread of this process.
public enum Spawn {
    /// Starts `arguments` (argv[0] looked up in PATH) inside `namespace`, joining the UTS
    /// namespace `utsFD` too when given. Returns the child's pid once it has exec'd.
    public static func start(_ arguments: [String], in namespace: NetworkNamespace, utsFD: Int32? = nil,
                             options: SpawnOptions = SpawnOptions()) throws(SpawnError) -> pid_t {
        guard let program = arguments.first, !program.isEmpty else {
            throw SpawnError(message: "no command given", code: EINVAL, program: "''")
        }
        guard let path = resolve(program) else {
            throw SpawnError(message: "command not found (searched PATH)", code: ENOENT, program: program)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var stdio: [Int32] = options.standardIO.map { [$0.input, $0.output, $0.error] } ?? [-1, -1, -1]
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in options.defaultSignals { sigaddset(&signals, signal) }
        var errorNumber: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let sources = options.binds.map { strdup($0.source) }, targets = options.binds.map { strdup($0.target) }
        defer { (sources + targets).forEach { free($0) } }
        let bindSources = sources.map { UnsafePointer($0) }, bindTargets = targets.map { UnsafePointer($0) }
        let pid: pid_t = namespace.name.withCString { name in
            path.withCString { path in
                argv.withUnsafeBufferPointer { argv in
                    withUnsafePointer(to: &signals) { signals in
                        stdio.withUnsafeMutableBufferPointer { stdio in
                            withUnsafeMutablePointer(to: &errorNumber) { errorNumber in
                                var request = nslab_spawn_request(
                                    netns_fd: namespace.fd, uts_fd: utsFD ?? -1, netns_name: name, path: path,
                                    argv: argv.baseAddress, envp: environ,
                                    stdio_fds: options.standardIO == nil ? nil : UnsafePointer(stdio.baseAddress),
                                    new_session: options.newSession ? 1 : 0,
                                    close_other_fds: options.closeOtherDescriptors ? 1 : 0,
                                    default_signals: signals, error_number: errorNumber,
                                    bind_sources: nil, bind_targets: nil, bind_count: Int32(bindSources.count))
                                return bindSources.withUnsafeBufferPointer { sources in
                                    bindTargets.withUnsafeBufferPointer { targets in
                                        request.bind_sources = sources.baseAddress
                                        request.bind_targets = targets.baseAddress
                                        return nslab_spawn_in_netns(&request, &message, message.count)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard pid > 0 else {
            throw SpawnError(message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), code: errorNumber == 0 ? EIO : errorNumber, program: program)
        }
        return pid
    }

    /// Waits for a child and returns its status the way a shell reports it: the exit code, or
    /// 128 + the signal that killed it.
    public static func wait(for pid: pid_t) -> Int32 {
        var status: Int32 = 0
        if retryingInterrupted({ waitpid(pid, &status, 0) }) < 0 { return 1 }
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// execvp's lookup, done before fork so that a missing command is a clear message rather than
    /// an errno from the child. Only /sys and /etc files differ inside a node, never PATH's dirs.
    public static func resolve(_ program: String) -> String? {
        if program.contains("/") { return program }
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }
}
