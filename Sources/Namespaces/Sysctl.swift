#if canImport(Glibc)
import Glibc
#endif
import Netlink
import Synchronization

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
    /// settings, so hosts are checked too, not assumed to start at 0. The current values are
    /// read over `socket` (one opened in this namespace, RTM_GETNETCONF) rather than from
    /// /proc/sys, where every lookup walks one dentry per namespace on the machine.
    public static func setForwarding(_ on: Bool, reading socket: NetlinkSocket) throws {
        for (family, key) in [(AF_INET, "net.ipv4.ip_forward"), (AF_INET6, "net.ipv6.conf.all.forwarding")] {
            // nil: the kernel has IPv6 disabled; a lab without IPv6 still works.
            guard let current = try socket.forwarding(family: family) else { continue }
            if current != on { try write(key, on ? "1" : "0") }
        }
    }

    /// The TTL and IPv6 hop limit this namespace's kernel sends with: IPv4's one setting, and
    /// IPv6's for interfaces made from now on ('default') and for each of `interfaces`, which
    /// keep what they were made with. There is no netlink request for either, and each write
    /// walks one /proc/sys entry per namespace on the machine: 'all' (only for interfaces
    /// without IPv6 settings) and lo (traffic that stays in the node) are left alone.
    public static func setDefaultTTL(_ ttl: Int, interfaces: [String]) throws {
        try write("net.ipv4.ip_default_ttl", "\(ttl)")
        for name in ["default"] + interfaces {
            // Slashes: an interface name may hold dots ("eth0.10").
            do { try write("net/ipv6/conf/\(name)/hop_limit", "\(ttl)") } catch let error as SystemCallError where error.code == ENOENT {}
        }
    }

    /// net.ipv4.ip_default_ttl of the calling thread's namespace, without /proc/sys: a new
    /// socket's IP_TTL is that value until set (ip_getsockopt), and a socket costs the same in
    /// every namespace, where a /proc/sys lookup walks one entry per namespace on the machine
    /// (1.5 ms a read at 10,000 namespaces, by the 0.15 ms measured at 1,000).
    public static func ipv4DefaultTTL() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket(AF_INET)") }
        defer { close(fd) }
        var ttl: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &ttl, &length) == 0 else { throw SystemCallError("getsockopt(IP_TTL)") }
        return Int(ttl)
    }

    /// No duplicate address detection on interfaces created from now on in this namespace.
    /// A lab's addresses are unique by construction; with DAD on, a fresh veth's link-local
    /// address stays tentative for about a second and the first IPv6 packets after deploy
    /// are lost. Must run before the namespace gets its interfaces (they copy 'default').
    public static func disableDuplicateAddressDetection(startingFrom start: NewNamespaceSysctls) throws {
        for key in ["net.ipv6.conf.default.accept_dad", "net.ipv6.conf.all.accept_dad"] {
            do { try start.ensure(key, "0") } catch let error as SystemCallError where error.code == ENOENT {}
        }
    }
}

/// What the namespaces a deploy creates start with, read once where the kernel makes that safe.
///
/// Every /proc/sys lookup walks one dentry per namespace on the machine (proc_sys_compare): at
/// 1,000 nodes, reading four keys in each new namespace cost 0.6 ms a node. A new namespace
/// gets its IPv6 (and, with net.core.devconf_inherit_init_net=2, IPv4) settings from the kernel's
/// compiled defaults, identical in every one: for those, what the first namespace holds, all
/// hold, and only a differing value needs a write. Settings copied from the host (IPv4 by
/// default) are read in each namespace as before, since the host may change them mid-deploy.
public final class NewNamespaceSysctls: Sendable {
    /// The families whose settings come from the compiled defaults.
    private let fixed: Set<String>
    /// nil: the key does not exist (IPv6 disabled).
    private let known = Mutex<[String: String?]>([:])

    /// Reads the host's net.core.devconf_inherit_init_net: call it from the host's namespace.
    public init() {
        // 0 (the default): IPv4 from the host, IPv6 compiled. 1, 3: both from the host (or the
        // creator's namespace). 2: both compiled. Kernels before 5.3 lack the key: as 0.
        switch (try? Sysctl.read("net.core.devconf_inherit_init_net")) ?? "0" {
        case "0": fixed = ["ipv6"]
        case "2": fixed = ["ipv4", "ipv6"]
        default: fixed = []
        }
    }

    /// Sysctl.ensure, for a thread inside one of the deploy's new namespaces.
    public func ensure(_ key: String, _ value: String) throws {
        let family = key.split(separator: ".").dropFirst().first.map(String.init) ?? ""
        guard key.hasPrefix("net."), fixed.contains(family) else { return try Sysctl.ensure(key, value) }
        let current = try known.withLock { known -> String? in
            if let value = known[key] { return value }
            let value: String?
            do {
                value = try Sysctl.read(key)
            } catch let error as SystemCallError where error.code == ENOENT {
                value = nil
            }
            known[key] = value
            return value
        }
        guard let current else { throw SystemCallError("open /proc/sys/\(key.replacingDots())", code: ENOENT) }
        if current != value { try Sysctl.write(key, value) }
    }
}

extension String {
    /// "net.ipv4.ip_forward" → "net/ipv4/ip_forward" (keys with slashes pass unchanged).
    func replacingDots() -> String {
        contains("/") ? self : String(map { $0 == "." ? "/" : $0 })
    }
}
