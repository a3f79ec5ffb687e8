import Foundation
import NetAddress
import Netlink
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// The /etc/hosts every node gets unless its topology gives its own: every node of the lab by
/// name with its data-plane addresses, and NODE-IFACE for each interface address, so that
/// `ping ns02` and `ping router01-gw01-veth1` work inside any node, through `ip netns exec` too.
public enum HostsFile {
    public static func content(for node: String, in topology: Topology) -> String {
        var lines = [
            "# /etc/hosts of node \(node) in lab \(topology.name), written by nslab: `nslab exec \(node)` and",
            "# `ip netns exec \(topology.namespaceName(of: node))` bind it over /etc/hosts. `nslab destroy \(topology.name)` removes it.",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
        ]
        var ownAddressCount = 0
        for other in topology.nodes {
            for endpoint in topology.endpoints(of: other.name) {
                for prefix in endpoint.addresses {
                    var names = [other.name]
                    // Interface names may hold characters a hosts file reads as syntax ('#').
                    let alias = "\(other.name)-\(endpoint.interface)"
                    if alias.unicodeScalars.allSatisfy(isHostNameCharacter) { names.append(alias) }
                    lines.append("\(prefix.address)\t\(names.joined(separator: " "))")
                    if other.name == node { ownAddressCount += 1 }
                }
            }
        }
        // A node without addresses still resolves its own name, as Debian's installer arranges
        // with 127.0.1.1 (sudo, `hostname -f` and mail tools look it up).
        if ownAddressCount == 0 { lines.insert("127.0.1.1\t\(node)", at: 4) }
        return lines.joined(separator: "\n") + "\n"
    }

    static func isHostNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "-" || scalar == "." || scalar == "_"
    }
}

/// The per-node /etc files: /etc/netns/NAMESPACE/NAME, which `ip netns exec` (and `nslab exec`)
/// bind over /etc/NAME inside the node. nslab only ever writes into directories it created, and
/// records them before creating them.
enum NodeFiles {
    static let root = "/etc/netns"

    static func directory(of namespace: String) -> String { "\(root)/\(namespace)" }

    /// The files a node gets: those it declares, plus the generated hosts unless it declares one.
    static func files(of node: Node, in topology: Topology) -> [(name: String, content: String)] {
        var files = node.files.map { (name: $0.name, content: $0.content) }
        if !files.contains(where: { $0.name == "hosts" }) {
            files.insert((name: "hosts", content: HostsFile.content(for: node.name, in: topology)), at: 0)
        }
        return files
    }

    /// /etc/netns/NAMESPACE directories that exist already: someone else's, never overwritten.
    static func collisions(_ topology: Topology) -> [String] {
        topology.nodes.compactMap { node in
            let path = directory(of: topology.namespaceName(of: node.name))
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return "\(path) (the /etc files of node \(node.name)) already exists and nslab did not create it"
        }
    }

    /// Declared files whose /etc counterpart does not exist on this machine: a bind mount needs
    /// a file to cover, so inside the node they would silently not appear.
    static func missingTargets(_ topology: Topology) -> [String] {
        var problems: [String] = []
        for node in topology.nodes {
            for file in node.files where !FileManager.default.fileExists(atPath: "/etc/\(file.name)") {
                problems.append("\(file.location): node \(node.name): /etc/\(file.name) does not exist on this machine, "
                                + "so /etc/netns/\(topology.namespaceName(of: node.name))/\(file.name) could not be bound over it")
            }
        }
        return problems
    }

    /// Creates every node's directory and writes its files, recording each directory before it
    /// is made. A directory that appeared since the collision check is an error, not a takeover.
    static func write(_ topology: Topology, record: LabRecord) throws {
        if !FileManager.default.fileExists(atPath: root) {
            try makeDirectory(root, files: [], record: record)
        }
        for node in topology.nodes {
            let path = directory(of: topology.namespaceName(of: node.name))
            let files = files(of: node, in: topology)
            try makeDirectory(path, files: files.map(\.name), record: record)
            for file in files {
                let target = "\(path)/\(file.name)"
                guard FileManager.default.createFile(atPath: target, contents: Data(file.content.utf8),
                                                     attributes: [.posixPermissions: 0o644]) else {
                    throw LabError.system(SystemCallError("write \(target)"), context: "writing the /etc files of node \(node.name)")
                }
            }
        }
    }

    private static func makeDirectory(_ path: String, files: [String], record: LabRecord) throws {
        try record.append([RecordEntry(event: .etcDirectory, path: path, files: files)])
        guard mkdir(path, 0o755) == 0 else {
            if errno == EEXIST {
                throw LabError.collision(["\(path) appeared while the lab was being deployed; nslab did not create it"])
            }
            throw LabError.system(SystemCallError("mkdir \(path)"), context: "creating per-node /etc files")
        }
        var info = stat()
        let inode: UInt64? = stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
        try record.append([RecordEntry(event: .etcDirectoryCreated, inode: inode, path: path)])
    }

    /// Removes what the record says nslab created, newest first: its files, then the directory
    /// if it is empty (files someone added by hand keep it, and them). A directory whose creation
    /// was never confirmed is removed only if empty.
    static func remove(_ directories: [NodeEnvironmentRecord.Directory]) {
        for directory in directories.reversed() {
            var info = stat()
            guard stat(directory.path, &info) == 0 else { continue }
            if let inode = directory.inode {
                guard UInt64(info.st_ino) == inode else { continue }  // replaced: someone else's now
                for file in directory.files { _ = unlink("\(directory.path)/\(file)") }
            }
            _ = rmdir(directory.path)
        }
    }
}
