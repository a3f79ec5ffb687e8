import CShims
import Netlink
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public enum NamespaceError: Error, CustomStringConvertible, Sendable {
    case invalidName(String, reason: String)
    case alreadyExists(String)
    case notFound(String)
    case system(SystemCallError, step: String, name: String)

    public var description: String {
        switch self {
        case .invalidName(let name, let reason):
            return "invalid namespace name \"\(name)\": \(reason)"
        case .alreadyExists(let name):
            return "namespace \"\(name)\" already exists (\(NamedNamespaces.directory)/\(name)); choose another name or remove it with `ip netns delete \(name)` if it is not in use"
        case .notFound(let name):
            return "namespace \"\(name)\" does not exist (no \(NamedNamespaces.directory)/\(name))"
        case .system(let error, let step, let name):
            return "namespace \"\(name)\": \(step): \(error)"
        }
    }
}

/// A named network namespace exactly as iproute2 makes them: a bind mount of the namespace onto
/// /run/netns/NAME, so `ip netns list`, `ip netns exec` and `ip -n` see it like a hand-made one.
/// The object holds an open fd of the namespace (for IFLA_NET_NS_FD and setns) until released.
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String
    public let fd: Int32
    /// The namespace's inode in nsfs: what identifies it, whatever name it is mounted under.
    public let inode: UInt64

    init(name: String, fd: Int32) throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = SystemCallError("fstat")
            close(fd)
            throw NamespaceError.system(error, step: "stat", name: name)
        }
        self.name = name
        self.fd = fd
        self.inode = UInt64(info.st_ino)
    }

    deinit { close(fd) }

    public var path: String { NamedNamespaces.path(of: name) }

    /// Opens the namespace at any nsfs path, such as /proc/PID/ns/net (one no name refers to).
    public static func open(path: String, describedAs name: String) throws -> NetworkNamespace {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NamespaceError.system(SystemCallError("open \(path)"), step: "open", name: name) }
        guard nslab_is_nsfs(fd) == 1 else {
            close(fd)
            throw NamespaceError.system(SystemCallError("\(path) is not a namespace", code: EINVAL), step: "open", name: name)
        }
        return try NetworkNamespace(name: name, fd: fd)
    }

    /// Opens an existing named namespace.
    public static func open(_ name: String) throws -> NetworkNamespace {
        try NamedNamespaces.validate(name)
        let fd = Glibc.open(NamedNamespaces.path(of: name), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw NamespaceError.notFound(name) }
            throw NamespaceError.system(SystemCallError("open"), step: "open", name: name)
        }
        return try NetworkNamespace(name: name, fd: fd)
    }

    /// `ip netns add NAME`, then `setup` runs inside the new namespace on the same thread (set
    /// sysctls, open a netlink socket: whatever must be done from inside). If setup fails the
    /// namespace is removed again. `reserved`: the file to mount on was made beforehand, by
    /// `NamedNamespaces.reserve` (this call then removes it only if it fails).
    public static func create<T>(_ name: String, reserved: Bool = false, setup: () throws -> T) throws -> (NetworkNamespace, T) {
        try NamedNamespaces.validate(name)
        try NamedNamespaces.prepareDirectory()
        let path = NamedNamespaces.path(of: name)
        if !reserved {
            let placeholder = Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
            guard placeholder >= 0 else {
                if errno == EEXIST { throw NamespaceError.alreadyExists(name) }
                throw NamespaceError.system(SystemCallError("create \(path)"), step: "create mount point", name: name)
            }
            close(placeholder)
        }
        do {
            return try NamespaceThread.run {
                guard nslab_unshare(NSLAB_CLONE_NEWNET) == 0 else {
                    throw NamespaceError.system(SystemCallError("unshare(CLONE_NEWNET)"), step: "unshare", name: name)
                }
                // thread-self, not self: /proc/self/ns/net is the main thread's namespace.
                guard mount("/proc/thread-self/ns/net", path, "none", UInt(MS_BIND), nil) == 0 else {
                    throw NamespaceError.system(SystemCallError("mount --bind"), step: "bind mount", name: name)
                }
                let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    let error = SystemCallError("open")
                    NamedNamespaces.unmountAndRemove(path)
                    throw NamespaceError.system(error, step: "open", name: name)
                }
                let namespace = try NetworkNamespace(name: name, fd: fd)
                do {
                    return (namespace, try setup())
                } catch {
                    NamedNamespaces.unmountAndRemove(path)
                    throw error
                }
            }
        } catch {
            unlink(path)  // no-op when the thread already removed it
            throw error
        }
    }

    /// Runs `body` inside this namespace, on a thread of its own.
    public func run<T>(_ body: () throws -> T) throws -> T {
        try NamespaceThread.run {
            try enter()
            return try body()
        }
    }

    /// Switches the calling thread into this namespace: only a thread NamespaceThread started
    /// (inside `run` or `forEach`), which exits when its work is done. On any other thread it is
    /// refused, since that thread would carry the namespace into unrelated work.
    public func enter() throws {
        guard NamespaceThread.isWorker else {
            throw NamespaceError.system(SystemCallError("setns refused on a thread that outlives its work", code: EPERM),
                                        step: "enter", name: name)
        }
        guard nslab_setns(fd, NSLAB_CLONE_NEWNET) == 0 else {
            throw NamespaceError.system(SystemCallError("setns"), step: "enter", name: name)
        }
    }

    /// A netlink socket that lives in this namespace.
    public func openSocket() throws -> NetlinkSocket {
        try run { try NetlinkSocket() }
    }
}

/// The /run/netns directory that iproute2 and nslab share.
public enum NamedNamespaces {
    public static let directory = "/run/netns"

    public static func path(of name: String) -> String { "\(directory)/\(name)" }

    /// The rules iproute2 applies, plus a length limit so the path stays valid.
    public static func validate(_ name: String) throws {
        if name.isEmpty { throw NamespaceError.invalidName(name, reason: "it is empty") }
        if name == "." || name == ".." { throw NamespaceError.invalidName(name, reason: "\".\" and \"..\" are not names") }
        if name.contains("/") { throw NamespaceError.invalidName(name, reason: "it contains \"/\"") }
        if name.utf8.contains(0) { throw NamespaceError.invalidName(name, reason: "it contains a NUL byte") }
        if name.utf8.count > 255 { throw NamespaceError.invalidName(name, reason: "it is longer than 255 bytes") }
    }

    /// Names in /run/netns, as `ip netns list` shows them.
    public static func list() -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The files a batch of namespaces will be mounted on, all made before any is created (see
    /// MountPointFiles for why). A name already taken is refused, and nothing is left behind.
    public static func reserve(_ names: [String]) throws -> MountPointFiles {
        for name in names { try validate(name) }
        try prepareDirectory()
        do {
            return try MountPointFiles.create(names.map(path(of:)))
        } catch .exists(let path) {
            throw NamespaceError.alreadyExists(String(path.dropFirst(directory.count + 1)))
        } catch .system(let error, let path) {
            throw NamespaceError.system(error, step: "create mount point", name: String(path.dropFirst(directory.count + 1)))
        }
    }

    public static func exists(_ name: String) -> Bool {
        var info = stat()
        return stat(path(of: name), &info) == 0
    }

    /// The nsfs inode mounted at /run/netns/NAME, or nil if nothing (or no namespace) is there.
    public static func inode(of name: String) -> UInt64? {
        let fd = open(path(of: name), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        // A placeholder file that was never mounted over lives on tmpfs, not nsfs.
        guard nslab_is_nsfs(fd) == 1 else { return nil }
        return UInt64(info.st_ino)
    }

    /// `ip netns delete NAME`: detach the mount and remove the file. The kernel frees the namespace
    /// (and every interface in it) once nothing else holds it.
    public static func delete(_ name: String) throws {
        try validate(name)
        let target = path(of: name)
        if umount2(target, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
            throw NamespaceError.system(SystemCallError("umount2"), step: "unmount", name: name)
        }
        if unlink(target) != 0 && errno != ENOENT {
            throw NamespaceError.system(SystemCallError("unlink"), step: "remove", name: name)
        }
    }

    static func unmountAndRemove(_ path: String) {
        _ = umount2(path, Int32(MNT_DETACH))
        _ = unlink(path)
    }

    private static let directoryReady = Mutex(false)

    /// As iproute2: make /run/netns a shared mount point so that namespace mounts propagate to
    /// every mount namespace, under an flock on the directory so concurrent `ip netns add` and
    /// nslab runs do not stack mounts. If it is not a mount point yet (EINVAL), bind it onto
    /// itself first.
    public static func prepareDirectory() throws {
        try directoryReady.withLock { ready in
            if ready { return }
            try makeDirectoryShared()
            ready = true
        }
    }

    private static func makeDirectoryShared() throws {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw NamespaceError.system(SystemCallError("mkdir \(directory)"), step: "prepare", name: directory)
        }
        let lockFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lockFD >= 0 else {
            throw NamespaceError.system(SystemCallError("open \(directory)"), step: "prepare", name: directory)
        }
        defer { close(lockFD) }
        guard flock(lockFD, LOCK_EX) == 0 else {
            throw NamespaceError.system(SystemCallError("flock \(directory)"), step: "prepare", name: directory)
        }
        defer { flock(lockFD, LOCK_UN) }
        var madeMountPoint = false
        while mount("", directory, "none", UInt(MS_SHARED | MS_REC), nil) != 0 {
            guard errno == EINVAL, !madeMountPoint else {
                throw NamespaceError.system(SystemCallError("mount --make-rshared \(directory)"), step: "prepare", name: directory)
            }
            guard mount(directory, directory, "none", UInt(MS_BIND | MS_REC), nil) == 0 else {
                throw NamespaceError.system(SystemCallError("mount --rbind \(directory)"), step: "prepare", name: directory)
            }
            madeMountPoint = true
        }
    }
}
