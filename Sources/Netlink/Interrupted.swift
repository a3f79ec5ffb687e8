#if canImport(Glibc)
import Glibc
#endif

/// Calls `body` again for as long as it fails with EINTR (a signal arrived while the call
/// waited), and returns the first result that was not an interruption: every blocking system
/// call nslab makes (send, recv, read, write, waitpid) goes through here rather than through a
/// loop of its own.
@inline(__always)
public func retryingInterrupted<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// Everything `fd` yields until end of file (a pipe, or a /proc file, which reports size 0 and is
/// made a page per read); nil if a read fails.
public func readToEnd(_ fd: Int32) -> [UInt8]? {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = retryingInterrupted { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        guard count >= 0 else { return nil }
        if count == 0 { return bytes }
        bytes += buffer[0..<count]
    }
}
