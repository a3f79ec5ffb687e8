import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// The empty files a batch of namespaces is bind-mounted on, made in one go: the first created,
/// every other a hard link to it.
///
/// Why links: a file costs an inode, and on ext4 without a journal the allocator skips every inode
/// freed in the last minute, re-reading each one, so after a destroy every new file scans past
/// all the files that destroy removed (measured here: 1,000 placeholders in /run/netns took
/// 0.6-1.0 s right after a destroy, 12 ms as links). A link allocates nothing, and removing one
/// frees nothing until the last. Each link is its own dentry, so each takes its own mount, and
/// `ip netns delete` (umount + unlink) handles it like any other.
///
/// Every link is made before anything is mounted: once the first file has a namespace on it, its
/// path leads into nsfs and can no longer be linked to.
public final class MountPointFiles: Sendable {
    public let paths: [String]
    private let device: UInt64
    private let inode: UInt64

    public enum Failure: Error, Sendable {
        /// Someone else's file is already there. Nothing this call made is left behind.
        case exists(String)
        case system(SystemCallError, path: String)
    }

    private init(paths: [String], device: UInt64, inode: UInt64) {
        self.paths = paths; self.device = device; self.inode = inode
    }

    /// Creates every path, exclusively, as with O_CREAT|O_EXCL. All paths must be on one mount.
    public static func create(_ paths: [String]) throws(Failure) -> MountPointFiles {
        guard let first = paths.first else { return MountPointFiles(paths: [], device: 0, inode: 0) }
        let fd = open(first, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        guard fd >= 0 else {
            if errno == EEXIST { throw .exists(first) }
            throw .system(SystemCallError("create \(first)"), path: first)
        }
        var info = stat()
        let statted = fstat(fd, &info) == 0
        close(fd)
        guard statted else {
            let error = SystemCallError("stat \(first)")
            unlink(first)
            throw .system(error, path: first)
        }
        let files = MountPointFiles(paths: paths, device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        for (made, path) in paths.enumerated().dropFirst() where link(first, path) != 0 {
            let failure: Failure = errno == EEXIST ? .exists(path) : .system(SystemCallError("link \(path)"), path: path)
            for earlier in paths[..<made] { unlink(earlier) }
            throw failure
        }
        return files
    }

    /// True while `path` is still this batch's empty file: nothing mounted over it, nobody else's
    /// file put in its place.
    public func isUnmounted(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Removes the files nothing was mounted on (after a failure part-way).
    public func removeUnmounted() {
        for path in paths where isUnmounted(path) { unlink(path) }
    }
}
