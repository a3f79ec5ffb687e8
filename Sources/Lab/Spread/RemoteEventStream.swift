import CShims
import Foundation
import Namespaces
import Netlink
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One host's part of a spread lab, followed as it changes: the host's own
/// `nslab events --json --announce-start LAB`, run over ssh by a child of this process and read
/// as it writes. The remote nslab ends when its output is closed, so ending the ssh here (`stop`)
/// ends it there too.
public final class RemoteEventStream: @unchecked Sendable {
    /// How a stream ended.
    public enum Ending: Equatable, Sendable {
        /// The host's part of the lab was destroyed: its nslab said so and stopped.
        case labDestroyed
        /// Ended here, by `stop`.
        case stopped
        /// ssh could not reach the host, or lost it (exit status 255).
        case unreachable(reason: String)
        /// The host's nslab failed or stopped for another reason.
        case failed(status: Int32, reason: String)
    }

    public let host: RemoteHost
    public let lab: String
    private let pid: pid_t
    /// The ends of the pipes from ssh's stdout and stderr; -1 once read to their end.
    private var output: Int32
    private var errors: Int32
    private var lines: RemoteEventLines
    private var errorText: [UInt8] = []
    /// Lines read while waiting for the start, handed out by the next `read`.
    private var held: [RemoteEventLine] = []
    private var sawDestroyed = false
    public private(set) var ending: Ending?
    /// Its ssh has been waited for: its pid may belong to another process from then on.
    private let reaped = Atomic<Bool>(false)

    /// Starts following `lab` on `host`; nil with the reason when ssh cannot be started at all.
    public static func start(lab: String, host: RemoteHost, via connections: SSHConnections) -> Result<RemoteEventStream, LabError> {
        guard let path = Spawn.resolve("ssh") else { return .failure(.refused("ssh is not installed on this machine")) }
        mkdir(RemoteHosts.controlDirectory, 0o700)
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard nslab_pipe_cloexec(&outPipe) == 0 else { return .failure(.system(SystemCallError("pipe2"), context: "following host \(host.name)")) }
        guard nslab_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            return .failure(.system(SystemCallError("pipe2"), context: "following host \(host.name)"))
        }
        let nothing = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let line = RemoteHosts.commandLine(host, ["events", "--json", "--announce-start", lab])
        let argv = ["ssh"] + RemoteHosts.sshOptions(connections) + [host.ssh, "--", line]
        let (pid, spawned) = HostProgram.spawn(path, argv, input: nothing, output: outPipe[1], error: errPipe[1])
        close(nothing); close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            return .failure(.refused("cannot run ssh: \(String(cString: strerror(spawned)))"))
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return .success(RemoteEventStream(lab: lab, host: host, pid: pid, output: outPipe[0], errors: errPipe[0]))
    }

    private init(lab: String, host: RemoteHost, pid: pid_t, output: Int32, errors: Int32) {
        self.lab = lab; self.host = host; self.pid = pid; self.output = output; self.errors = errors
        lines = RemoteEventLines(host: host.name)
    }

    deinit { stop() }

    /// What to poll for input: the pipes not yet read to their end.
    public var descriptors: [Int32] { [output, errors].filter { $0 >= 0 } }

    /// What has arrived on either pipe. Once both are at their end the stream has ended
    /// (`ending`), with what its last lines said.
    public func read() -> [RemoteEventLine] {
        var result = held
        held = []
        if output >= 0 {
            result += lines.take(drain(&output))
            if output < 0 { result += lines.finish() }
        }
        if errors >= 0 { errorText += drain(&errors) }
        if result.contains(where: { if case .event(let event) = $0 { event.type == .labDestroyed } else { false } }) {
            sawDestroyed = true
        }
        if output < 0 && errors < 0 && ending == nil { ending = end(status: reap()) }
        return result
    }

    /// Waits up to `timeout` seconds for the host to say it follows its labs (or for the stream
    /// to end). What arrives meanwhile is kept for `read`. True when it started.
    public func waitForStart(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while ending == nil && Date() < deadline {
            var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 100)
            let lines = read()
            held += lines
            if lines.contains(.started) { return true }
        }
        return false
    }

    /// Ends the ssh (and with it the host's nslab) and reaps it. Nothing is reported any more.
    public func stop() {
        guard ending == nil else { return }
        // SIGKILL: an ssh sharing another's connection (a mux client) was seen to stay on after
        // SIGTERM, waiting for its master. It holds nothing to flush; once it is gone its master
        // closes the session, and the host's nslab, its output closed, ends too.
        kill(pid, SIGKILL)
        for fd in [output, errors] where fd >= 0 { close(fd) }
        output = -1; errors = -1
        _ = reap()
        ending = .stopped
    }

    /// Ends its ssh from any thread, leaving the reading and reaping to the thread that owns the
    /// stream (a process shutting down while a stream is being started elsewhere).
    public func terminate() {
        if !reaped.load(ordering: .acquiring) { kill(pid, SIGKILL) }
    }

    private func reap() -> Int32 {
        let status = Spawn.wait(for: pid)
        reaped.store(true, ordering: .releasing)
        return status
    }

    /// One line for an end a person should hear of; nil while it runs, and for a destroy of the
    /// host's part or a stop asked here.
    public var endNote: String? {
        switch ending {
        case nil, .labDestroyed, .stopped:
            return nil
        case .unreachable(let reason):
            return "lab \(lab): host \(host.name) cannot be reached (\(reason)); its part is not followed"
        case .failed(let status, let reason):
            return "lab \(lab): following host \(host.name) stopped (\(reason), exit status \(status))"
        }
    }

    /// The last line ssh or the host's nslab wrote on stderr, for a one-line message.
    public var reason: String {
        let text = String(decoding: errorText, as: UTF8.self)
        return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.last { !$0.isEmpty } ?? ""
    }

    private func end(status: Int32) -> Ending {
        if sawDestroyed && status == 0 { return .labDestroyed }
        if status == 255 { return .unreachable(reason: reason.isEmpty ? "ssh \(host.ssh) failed" : reason) }
        return .failed(status: status, reason: reason.isEmpty ? "exit status \(status)" : reason)
    }

    /// Reads what a non-blocking pipe holds; closes it at its end (sets it to -1).
    private func drain(_ fd: inout Int32) -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fd >= 0 {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 { data += buffer[0..<count]; continue }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            close(fd)
            fd = -1
        }
        return data
    }
}
