import CShims
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// A node's UTS namespace: what `hostname` prints inside it. Kept alive the way a named network
/// namespace is, by a bind mount of the namespace file (here under the lab's state directory),
/// and joined by `nslab exec` next to the network namespace.
public enum UTSNamespace {
    /// Creates a UTS namespace whose host name is `hostname` and bind-mounts it on `path` (a new
    /// file, created O_EXCL). Returns its nsfs inode.
    public static func create(hostname: String, at path: String) throws -> UInt64 {
        try NamespaceThread.run { try createOnThisThread(hostname: hostname, at: path) }
    }

    /// The same, for a thread NamespaceThread started that is about to exit anyway (such as the
    /// one creating the node's network namespace): unshare changes only the calling thread, so
    /// this must never run on a shared one.
    /// `reserved`: `path` was made beforehand (by MountPointFiles).
    public static func createOnThisThread(hostname: String, at path: String, reserved: Bool = false) throws -> UInt64 {
        if !reserved {
            let placeholder = Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
            guard placeholder >= 0 else { throw SystemCallError("create \(path)") }
            close(placeholder)
        }
        do {
            guard nslab_unshare(NSLAB_CLONE_NEWUTS) == 0 else { throw SystemCallError("unshare(CLONE_NEWUTS)") }
            let bytes = Array(hostname.utf8)
            guard sethostname(bytes.map { CChar(bitPattern: $0) }, bytes.count) == 0 else {
                throw SystemCallError("sethostname \(hostname)")
            }
            guard mount("/proc/thread-self/ns/uts", path, "none", UInt(MS_BIND), nil) == 0 else {
                throw SystemCallError("mount --bind /proc/thread-self/ns/uts \(path)")
            }
        } catch {
            unlink(path)
            throw error
        }
        // Opened here rather than through inode(at:), which answers nil for every failure: out
        // of open files (EMFILE), a 1,000-node deploy said "… is not a namespace after mounting
        // it: Invalid argument", hiding the cause.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let error = SystemCallError("open \(path) after mounting the namespace on it")
            remove(at: path)
            throw error
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, nslab_is_nsfs(fd) == 1 else {
            remove(at: path)
            throw SystemCallError("\(path) is not a namespace after mounting it", code: EINVAL)
        }
        return UInt64(info.st_ino)
    }

    /// The nsfs inode mounted at `path`, or nil when nothing (or no namespace) is mounted there.
    public static func inode(at path: String) -> UInt64? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, nslab_is_nsfs(fd) == 1 else { return nil }
        return UInt64(info.st_ino)
    }

    /// An fd to join the namespace with (close it after spawning), if `path` still holds the
    /// namespace with `inode`.
    public static func open(at path: String, inode: UInt64) -> Int32? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, nslab_is_nsfs(fd) == 1, UInt64(info.st_ino) == inode else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Unmounts and removes the file; the namespace goes when no process is left in it.
    /// Unlinking also detaches copies of the mount in other mount namespaces (Linux >= 3.18).
    public static func remove(at path: String) {
        _ = umount2(path, Int32(MNT_DETACH))
        _ = unlink(path)
    }
}
