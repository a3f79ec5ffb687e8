#if canImport(Glibc)
import Glibc
#endif
import Netlink

/// Per-namespace sysctls. /proc/sys/net resolves to the namespace of the thread that opens the
/// file, so these must run inside the namespace (NetworkNamespace.run or create's setup).
public enum Sysctl {
    public static func write(_ key: String, _ value: String) throws {
        let path = "/proc/sys/" + key.replacingDots()
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open \(path)") }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw SystemCallError("write \(path)") }
    }

    public static func read(_ key: String) throws -> String {
        let path = "/proc/sys/" + key.replacingDots()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open \(path)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw SystemCallError("read \(path)") }
        var text = String(decoding: buffer[0..<count], as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    /// Writes the value only if the key holds another one. Reading is cheap once the namespace's
    /// /proc/sys/net/ipvN tree has been touched (the first access costs about 0.1 ms either way),
    /// while writing IPv6 forwarding takes the kernel's rtnl lock and costs 0.2 ms more: in a new
    /// namespace it is already 0, which is what every host wants.
    public static func ensure(_ key: String, _ value: String) throws {
        if try read(key) != value { try write(key, value) }
    }

    /// IPv4 and IPv6 forwarding for the whole namespace. A new namespace copies the host's IPv4
    /// settings, so hosts are checked too, not assumed to start at 0.
    public static func setForwarding(_ on: Bool) throws {
        try ensure("net.ipv4.ip_forward", on ? "1" : "0")
        // Missing when the kernel has IPv6 disabled; a lab without IPv6 still works.
        do { try ensure("net.ipv6.conf.all.forwarding", on ? "1" : "0") } catch let error as SystemCallError where error.code == ENOENT {}
    }

    /// No duplicate address detection on interfaces created from now on in this namespace.
    /// A lab's addresses are unique by construction; with DAD on, a fresh veth's link-local
    /// address stays tentative for about a second and the first IPv6 packets after deploy
    /// are lost. Must run before the namespace gets its interfaces (they copy 'default').
    public static func disableDuplicateAddressDetection() throws {
        for key in ["net.ipv6.conf.default.accept_dad", "net.ipv6.conf.all.accept_dad"] {
            do { try ensure(key, "0") } catch let error as SystemCallError where error.code == ENOENT {}
        }
    }

    public static func forwarding() -> (ipv4: Bool?, ipv6: Bool?) {
        ((try? read("net.ipv4.ip_forward")).map { $0 == "1" },
         (try? read("net.ipv6.conf.all.forwarding")).map { $0 == "1" })
    }
}

extension String {
    /// "net.ipv4.ip_forward" → "net/ipv4/ip_forward" (keys with slashes pass unchanged).
    func replacingDots() -> String {
        contains("/") ? self : String(map { $0 == "." ? "/" : $0 })
    }
}
