import Foundation
import Namespaces
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// Converging a node's /etc files: a file replaced as a whole (a new file renamed over the old
/// one, so a process reading it sees the old or the new content, never half), the directory
/// made and recorded the first time a node gets one.
extension NodeFiles {
    /// Makes sure the node's directory exists and is recorded with `names` among its files.
    static func prepare(namespace: String, names: [String], recorded: NodeEnvironmentRecord, record: LabRecord) throws {
        let path = directory(of: namespace)
        let known = recorded.directories.first { $0.path == path }
        var exists = stat()
        if let known, known.inode != nil, stat(path, &exists) == 0, UInt64(exists.st_ino) == known.inode {
            let missing = names.filter { !known.files.contains($0) }
            if !missing.isEmpty { try record.append([RecordEntry(event: .etcDirectory, path: path, files: known.files + missing)]) }
            return
        }
        if stat(path, &exists) == 0 {
            throw LabError.collision(["\(path) (the /etc files of namespace \(namespace)) exists and nslab did not create it"])
        }
        try makeRootIfMissing(record: record)
        try record.append([RecordEntry(event: .etcDirectory, path: path, files: names)])
        try makeDirectory(path, record: record)
        try confirm(path, record: record)
    }

    /// Writes `content` to `NAMESPACE/NAME` through a temporary file in the same directory.
    static func replace(namespace: String, name: String, content: String) throws {
        let target = "\(directory(of: namespace))/\(name)"
        let temporary = "\(directory(of: namespace))/.\(name).nslab-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(content.utf8),
                                             attributes: [.posixPermissions: 0o644]) else {
            throw LabError.system(SystemCallError("create \(temporary)"), context: "writing /etc/\(name) of \(namespace)")
        }
        guard rename(temporary, target) == 0 else {
            let error = SystemCallError("rename \(temporary) to \(target)")
            unlink(temporary)
            throw LabError.system(error, context: "writing /etc/\(name) of \(namespace)")
        }
    }

    /// The file's content before it is removed (to put it back on a rollback), nil if it was
    /// not there.
    static func remove(namespace: String, name: String) throws -> String? {
        let target = "\(directory(of: namespace))/\(name)"
        let content = FileManager.default.contents(atPath: target).map { String(decoding: $0, as: UTF8.self) }
        guard unlink(target) == 0 || errno == ENOENT else {
            throw LabError.system(SystemCallError("unlink \(target)"), context: "removing /etc/\(name) of \(namespace)")
        }
        return content
    }
}
