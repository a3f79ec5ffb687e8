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
    /// Makes sure each node's directory exists and is recorded with the given file names among
    /// its files: namespace → names. One record write for all intents, one for all confirmations.
    static func prepare(_ wanted: [(namespace: String, names: [String])], recorded: NodeEnvironmentRecord,
                        record: LabRecord) throws {
        var intents: [RecordEntry] = []
        var toMake: [String] = []
        var confirmations: [RecordEntry] = []
        for (namespace, names) in wanted {
            let path = directory(of: namespace)
            let known = recorded.directories.first { $0.path == path }
            var exists = stat()
            let present = stat(path, &exists) == 0
            if let known, present, known.inode == nil || UInt64(exists.st_ino) == known.inode {
                // An intent without its confirmation: a deploy killed between the two made it.
                if known.inode == nil {
                    confirmations.append(RecordEntry(event: .etcDirectoryCreated, inode: UInt64(exists.st_ino), path: path))
                }
                let missing = names.filter { !known.files.contains($0) }
                if !missing.isEmpty { intents.append(RecordEntry(event: .etcDirectory, path: path, files: known.files + missing)) }
                continue
            }
            if present {
                throw LabError.collision(["\(path) (the /etc files of namespace \(namespace)) exists and nslab did not create it"])
            }
            intents.append(RecordEntry(event: .etcDirectory, path: path, files: names))
            toMake.append(path)
        }
        if !toMake.isEmpty { try makeRootIfMissing(record: record) }
        try record.append(intents)
        for path in toMake {
            try makeDirectory(path, record: record)
            var made = stat()
            confirmations.append(RecordEntry(event: .etcDirectoryCreated, inode: stat(path, &made) == 0 ? UInt64(made.st_ino) : nil,
                                             path: path))
        }
        try record.append(confirmations)
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

    /// Makes `NAMESPACE/NAME` a hard link of `original` (a file written by `replace`), through a
    /// temporary name renamed over the old file. False when the file system refuses the link.
    static func hardLink(namespace: String, name: String, to original: String) -> Bool {
        let target = "\(directory(of: namespace))/\(name)"
        let temporary = "\(directory(of: namespace))/.\(name).nslab-\(getpid())"
        unlink(temporary)
        guard Glibc.link(original, temporary) == 0 else { return false }
        guard rename(temporary, target) == 0 else {
            unlink(temporary)
            return false
        }
        return true
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
