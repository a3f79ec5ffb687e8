import CShims
import Glibc

/// Runs `/bin/sh -c command` and returns its exit status and combined stdout+stderr.
///
/// Written on posix_spawn and waitpid rather than Foundation's Process: Process reaps children
/// from a run loop that swift-testing's parallel tests can starve, which hung `swift test` with
/// the shell already a zombie. The pipe is created close-on-exec so that children spawned at the
/// same time by other tests never hold this one's write end open.
@discardableResult
public func sh(_ command: String) -> (status: Int32, output: String) {
    var fds: [Int32] = [-1, -1]
    guard nslab_pipe_cloexec(&fds) == 0 else { return (127, "pipe2: \(String(cString: strerror(errno)))") }
    let (readEnd, writeEnd) = (fds[0], fds[1])

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
    posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)

    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
    defer { argv.forEach { free($0) } }
    // The child starts with no signal blocked and every signal at its default, whatever the
    // test runner's thread had: commands under test must see SIGINT and SIGTERM as a shell would.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    startWithDefaultSignals(&attributes)

    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, environ)
    close(writeEnd)
    guard spawned == 0 else {
        close(readEnd)
        return (127, "posix_spawn: \(String(cString: strerror(spawned)))")
    }

    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(readEnd, &buffer, buffer.count)
        if count > 0 { output.append(contentsOf: buffer[0..<count]); continue }
        if count < 0 && errno == EINTR { continue }
        break
    }
    close(readEnd)

    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitStatus, String(decoding: output, as: UTF8.self))
}

/// Spawn attributes that start the child with no signal blocked and every signal at its default,
/// whatever the spawning thread had; `flags` adds other POSIX_SPAWN_* flags.
func startWithDefaultSignals(_ attributes: inout posix_spawnattr_t, flags: Int32 = 0) {
    var none = sigset_t(), all = sigset_t()
    sigemptyset(&none)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | flags))
}
