import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Processes that run inside a namespace, found as `ip netns pids` finds them: every /proc/PID
/// whose ns/net is the namespace's inode.
enum NamespaceProcesses {
    /// Every process whose network namespace is one of `inodes`, by one pass over /proc (as
    /// `ip netns pids` finds them), so a lab of a thousand nodes costs one scan, not a thousand.
    static func pids(inNamespacesWithInodes inodes: Set<UInt64>) -> [(pid: pid_t, inode: UInt64)] {
        inodes.isEmpty ? [] : pids(inNamespacesWhere: inodes.contains)
    }

    /// Every process (but this one) whose network namespace's inode passes `include`.
    static func pids(inNamespacesWhere include: (UInt64) -> Bool) -> [(pid: pid_t, inode: UInt64)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let me = getpid()
        var found: [(pid: pid_t, inode: UInt64)] = []
        for entry in entries {
            guard let pid = pid_t(entry), pid != me else { continue }
            var info = stat()
            if stat("/proc/\(entry)/ns/net", &info) == 0, include(UInt64(info.st_ino)) {
                found.append((pid, UInt64(info.st_ino)))
            }
        }
        return found
    }

    /// Ends every process inside the given namespaces: SIGTERM, up to `grace` seconds to exit,
    /// then SIGKILL. Returns how many there were. A process that holds a namespace would keep
    /// it, and its interfaces, alive after the mount is gone.
    @discardableResult
    static func terminateAll(inNamespacesWithInodes inodes: Set<UInt64>, grace: Double = 2.0) -> Int {
        let found = pids(inNamespacesWithInodes: inodes)
        let inodeOf = Dictionary(found.map { ($0.pid, $0.inode) }, uniquingKeysWith: { first, _ in first })
        return terminate(found.map(\.pid), grace: grace) { pid in
            inodeOf[pid].map { isAlive(pid, inode: $0) } ?? false
        }
    }

    /// SIGTERM to every pid, up to `grace` seconds for them to go, then SIGKILL to those that
    /// `isAlive` still recognises. Returns how many there were.
    @discardableResult
    static func terminate(_ initial: [pid_t], grace: Double, isAlive: (pid_t) -> Bool) -> Int {
        if initial.isEmpty { return 0 }
        for pid in initial { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        var remaining = initial
        while !remaining.isEmpty && Date() < deadline {
            usleep(20_000)
            remaining = remaining.filter(isAlive)
        }
        for pid in remaining { kill(pid, SIGKILL) }
        let killDeadline = Date().addingTimeInterval(1.0)
        while !remaining.isEmpty && Date() < killDeadline {
            usleep(10_000)
            remaining = remaining.filter(isAlive)
        }
        return initial.count
    }

    private static func isAlive(_ pid: pid_t, inode: UInt64) -> Bool {
        var info = stat()
        guard stat("/proc/\(pid)/ns/net", &info) == 0, UInt64(info.st_ino) == inode else { return false }
        // A zombie keeps its /proc entry but no longer holds the namespace.
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = status.lastIndex(of: ")") else { return false }
        let state = status[status.index(after: close)...].drop { $0 == " " }.first
        return state != "Z"
    }
}
