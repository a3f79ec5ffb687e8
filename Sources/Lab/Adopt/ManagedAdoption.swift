import Foundation
import Namespaces
import Topology
#if canImport(Glibc)
import Glibc
#endif

extension LabAdopter {
    /// `adopt --manage`: the adopted namespaces become lab `adoption.topology.name` without being
    /// rebuilt. nslab's record is written as a deploy writes it — intent, then each namespace
    /// confirmed with the inode it was read with, its /etc/netns directory with the files the
    /// topology names — and the lab is then converged to its topology, which changes only what
    /// the file cannot leave as it was (the hosts and resolv.conf files nslab gives every node
    /// that has none). From then on `deploy`, `inspect` and `destroy` treat it as any other lab.
    public static func manage(_ adoption: Adoption, sourceText: String,
                              progress: (ProgressStep) -> Void = { _ in }) throws -> ConvergeResult {
        try Privileges.check(for: "take over namespaces")
        let topology = adoption.topology
        if LabRecord.exists(lab: topology.name) {
            throw LabError.refused("lab \(topology.name) exists already: choose another name with --name, "
                                   + "or `nslab destroy \(topology.name)` first")
        }
        let record = try LabRecord(lab: topology.name, create: true)
        do {
            try record.append(try ownershipEntries(adoption))
            try record.saveTopology(sourceText)
        } catch {
            record.remove()
            throw error
        }
        return try LabConverger.converge(topology, sourceText: sourceText, record: record, options: ConvergeOptions(),
                                         progress: progress)
    }

    /// What a deploy would have recorded had it made these namespaces. Each namespace must still
    /// be the one that was read (same inode), and each /etc/netns directory is taken with the
    /// inode it has now.
    static func ownershipEntries(_ adoption: Adoption) throws -> [RecordEntry] {
        let topology = adoption.topology
        var entries = [RecordEntry(event: .lab, lab: topology.name, file: LabDeployer.absolutePath(topology.file),
                                   hash: contentHash(YAMLWriter.yaml(of: topology)), prefix: topology.prefix,
                                   time: Date().timeIntervalSince1970)]
        var confirmations: [RecordEntry] = []
        for node in topology.nodes {
            let namespace = topology.namespaceName(of: node.name)
            guard let inode = NamedNamespaces.inode(of: namespace), inode == adoption.inodes[namespace] else {
                throw LabError.refused("namespace \(namespace) changed since it was read (deleted or made again): adopt it again")
            }
            entries.append(RecordEntry(event: .namespace, name: namespace, node: node.name))
            confirmations.append(RecordEntry(event: .namespaceCreated, name: namespace, inode: inode))
            let directory = NodeFiles.directory(of: namespace)
            var info = stat()
            if stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                entries.append(RecordEntry(event: .etcDirectory, path: directory, files: node.files.map(\.name)))
                confirmations.append(RecordEntry(event: .etcDirectoryCreated, inode: UInt64(info.st_ino), path: directory))
            }
        }
        entries.append(RecordEntry(event: .links, interfaces: topology.links.flatMap { $0.endpoints.map(\.id) }))
        return entries + confirmations
    }
}
