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
    /// Each path's file as made: (device, inode). One inode for all of them, except where a file
    /// system refused a link and the file was created on its own.
    private let identities: [String: FileIdentity]

    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    public enum Failure: Error, Sendable {
        /// Someone else's file is already there. Nothing this call made is left behind.
        case exists(String)
        case system(SystemCallError, path: String)
    }

    private init(paths: [String], identities: [String: FileIdentity]) {
        self.paths = paths; self.identities = identities
    }

    /// Creates every path, exclusively, as with O_CREAT|O_EXCL. Paths on one mount share one
    /// inode; where a link is refused for another reason than an existing file (a file system
    /// without hard links, another mount), the file is created on its own instead.
    public static func create(_ paths: [String]) throws(Failure) -> MountPointFiles {
        var made: [String: FileIdentity] = [:]
        func undo() { for path in paths where made[path] != nil { unlink(path) } }
        for path in paths {
            if let first = paths.first, path != first, link(first, path) == 0 {
                made[path] = made[first]
                continue
            }
            if errno == EEXIST && path != paths.first {
                undo()
                throw .exists(path)
            }
            do {
                made[path] = try createFile(path)
            } catch {
                undo()
                throw error
            }
        }
        return MountPointFiles(paths: paths, identities: made)
    }

    private static func createFile(_ path: String) throws(Failure) -> FileIdentity {
        let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        guard fd >= 0 else {
            if errno == EEXIST { throw .exists(path) }
            throw .system(SystemCallError("create \(path)"), path: path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = SystemCallError("stat \(path)")
            unlink(path)
            throw .system(error, path: path)
        }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// True while `path` is still this batch's empty file: nothing mounted over it, nobody else's
    /// file put in its place.
    public func isUnmounted(_ path: String) -> Bool {
        var info = stat()
        guard let made = identities[path], stat(path, &info) == 0 else { return false }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) == made
    }

    /// Removes the files nothing was mounted on (after a failure part-way).
    public func removeUnmounted() {
        for path in paths where isUnmounted(path) { unlink(path) }
    }
}
