import Foundation
import CShims
import Namespaces
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A program of the machine (vtysh, ssh) run to its end: what it wrote on stdout and stderr,
/// and its exit status. Its input, when given, is written while its output is read, so neither
/// side can fill a pipe and wait for the other.
struct HostProgram {
    var status: Int32
    var output: Data
    var error: Data

    var outputText: String { String(decoding: output, as: UTF8.self) }
    var errorText: String { String(decoding: error, as: UTF8.self) }

    /// `mergingErrors`: stderr goes where stdout goes, in the order written.
    static func run(_ argv: [String], input: Data? = nil, mergingErrors: Bool = false) -> HostProgram {
        guard let path = Spawn.resolve(argv[0]) else { return HostProgram(status: 127, output: Data(), error: Data("\(argv[0]) not found".utf8)) }
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], inPipe: [Int32] = [0, 0]
        guard nslab_pipe_cloexec(&outPipe) == 0, nslab_pipe_cloexec(&errPipe) == 0, nslab_pipe_cloexec(&inPipe) == 0 else {
            return HostProgram(status: 1, output: Data(), error: Data("pipe: \(String(cString: strerror(errno)))".utf8))
        }
        let (pid, spawned) = spawn(path, argv, input: inPipe[0], output: outPipe[1], error: mergingErrors ? outPipe[1] : errPipe[1])
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            return HostProgram(status: 127, output: Data(), error: Data(String(cString: strerror(spawned)).utf8))
        }
        let writer = Thread { [fd = inPipe[1]] in
            if let input { input.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 { if errno == EINTR { continue } else { break } }
                    offset += written
                }
            } }
            close(fd)
        }
        writer.start()
        let errors = Mutex(Data())
        let errorsRead = DispatchSemaphore(value: 0)
        Thread { [fd = errPipe[0]] in
            let data = readAll(fd)
            errors.withLock { $0 = data }
            close(fd)
            errorsRead.signal()
        }.start()
        let output = readAll(outPipe[0])
        close(outPipe[0])
        let status = Spawn.wait(for: pid)
        // Read to its end: the program closed its stderr, at the latest when it exited.
        errorsRead.wait()
        return HostProgram(status: status, output: output, error: errors.withLock { $0 })
    }

    /// Starts `argv` (its program at `path`) with the three descriptors as its stdin, stdout and
    /// stderr: its pid, and 0 or the error number posix_spawn gave.
    static func spawn(_ path: String, _ argv: [String], input: Int32, output: Int32, error: Int32) -> (pid: pid_t, error: Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, error, 2)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, cArgs, environ)
        return (pid, spawned)
    }

    private static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 { if errno == EINTR { continue } else { break } }
            if count == 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return data
    }
}
