import CShims
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// An inotify instance: directories the kernel tells us about when entries appear, change or go,
/// so that labs and namespaces coming and going are noticed without looking again and again.
/// Non-blocking: wait for `fd` with poll(2), then call `read`.
public final class Inotify: @unchecked Sendable {
    public let fd: Int32

    /// One thing that happened to an entry of a watched directory (or to the directory itself,
    /// with an empty `name`).
    public struct Event: Sendable, Equatable {
        public var watch: Int32
        public var mask: UInt32
        public var name: String

        public func has(_ flag: some BinaryInteger) -> Bool { mask & UInt32(truncatingIfNeeded: flag) != 0 }
    }

    public init() throws(SystemCallError) {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw SystemCallError("inotify_init1") }
    }

    deinit { close(fd) }

    /// Watches `path` for `mask` (IN_* flags); nil when it does not exist (yet).
    public func watch(_ path: String, mask: Int32) -> Int32? {
        let watch = inotify_add_watch(fd, path, UInt32(bitPattern: mask))
        return watch >= 0 ? watch : nil
    }

    public func remove(_ watch: Int32) { _ = inotify_rm_watch(fd, watch) }

    /// Everything waiting, decoded; empty when nothing is.
    public func read() -> [Event] {
        var events: [Event] = []
        var bytes = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = Glibc.read(fd, &bytes, bytes.count)
            if count <= 0 { return events }
            var offset = 0
            // struct inotify_event: wd (i32), mask (u32), cookie (u32), len (u32), then the name,
            // NUL-padded to len.
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (watch, mask, length) = bytes.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                let name = bytes[nameStart..<min(count, nameStart + Int(length))].prefix { $0 != 0 }
                events.append(Event(watch: watch, mask: mask, name: String(decoding: name, as: UTF8.self)))
                offset = nameStart + Int(length)
            }
        }
    }
}
