import Foundation
import CShims
import NetAddress
import Namespaces
import Netlink
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// The /etc/hosts every node gets unless its topology gives its own: every node of the lab by
/// name with its data-plane addresses, and NODE-IFACE for each interface address, so that
/// `ping ns02` and `ping router01-gw01-veth1` work inside any node, through `ip netns exec` too.
public enum HostsFile {
    /// The lines every node's hosts file shares, computed once per lab: building them per node
    /// made a 2,000-node deploy cubic (each node listing every node's endpoints, found by a scan).
    struct Table {
        var lines: [String] = []
        /// Nodes with at least one address: their hosts files are identical.
        var addressed: Set<String> = []

        init(_ topology: Topology) {
            // Link ends and their 802.1Q sub-interfaces (router-eth0.10).
            // The nodes of a spread lab on other machines too (`remote:`).
            let interfacesByNode = Dictionary(grouping: topology.declaredInterfaces + topology.remoteNodes.flatMap(\.interfaces),
                                              by: \.node)
            for other in topology.nodes.map(\.name) + topology.remoteNodes.map(\.name) {
                for interface in interfacesByNode[other] ?? [] {
                    for prefix in interface.addresses {
                        var names = [other]
                        // Interface names may hold characters a hosts file reads as syntax ('#').
                        let alias = "\(other)-\(interface.interface)"
                        if alias.unicodeScalars.allSatisfy(isHostNameCharacter) { names.append(alias) }
                        lines.append("\(prefix.address)\t\(names.joined(separator: " "))")
                        addressed.insert(other)
                    }
                }
            }
        }
    }

    public static func content(for node: String, in topology: Topology) -> String {
        content(for: node, lab: topology.name, table: Table(topology))
    }

    static func content(for node: String, lab: String, table: Table) -> String {
        var lines = [
            "# /etc/hosts of the nodes of lab \(lab), written by nslab: `nslab exec NODE` and `ip netns exec`",
            "# bind it over /etc/hosts. `nslab destroy \(lab)` removes it.",
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
        ]
        // A node without addresses still resolves its own name, as Debian's installer arranges
        // with 127.0.1.1 (sudo, `hostname -f` and mail tools look it up).
        if !table.addressed.contains(node) { lines.append("127.0.1.1\t\(node)") }
        return (lines + table.lines).joined(separator: "\n") + "\n"
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

    /// The files a node gets: those it declares, plus the generated hosts and resolv.conf for
    /// those it does not declare (resolv.conf only where the host has one to bind over).
    static func files(of node: Node, in topology: Topology,
                      hostHasResolvConf: Bool = FileManager.default.fileExists(atPath: "/etc/resolv.conf"),
                      hosts: HostsFile.Table? = nil)
        -> [(name: String, content: String)] {
        let table = hosts ?? HostsFile.Table(topology)
        return fileNames(of: node, hostHasResolvConf: hostHasResolvConf).map { name in
            (name: name, content: content(of: name, node: node, lab: topology.name, hosts: table))
        }
    }

    /// The content of one of a node's files: the node's own, or the generated hosts or resolv.conf.
    static func content(of name: String, node: Node, lab: String, hosts: HostsFile.Table) -> String {
        if let declared = node.files.first(where: { $0.name == name }) { return declared.content }
        return name == "hosts" ? HostsFile.content(for: node.name, lab: lab, table: hosts) : resolvConf(lab: lab)
    }

    /// No name server: a lab reaches nothing outside itself, so the host's name server is out of
    /// reach, and every lookup /etc/hosts cannot answer (getent asks for IPv6 first) would wait
    /// 5 s for it. Without a `nameserver` line the resolver asks 127.0.0.1, which refuses at once
    /// (or answers, if the node runs a DNS server of its own).
    static func resolvConf(lab: String) -> String {
        """
        # resolv.conf of the nodes of lab \(lab), written by nslab. The lab is not connected to any
        # network outside it, so no name server is listed: the resolver asks 127.0.0.1 inside the
        # node, which fails at once unless the node runs a DNS server. Names come from /etc/hosts.
        # Give the node `files: { resolv.conf: … }` in the topology to use a name server of its own.

        """
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
        try makeRootIfMissing(record: record)
        let hosts = HostsFile.Table(topology)
        let hostHasResolvConf = FileManager.default.fileExists(atPath: "/etc/resolv.conf")
        // Names only: a generated hosts file lists every node, so holding one per node at once
        // cost 60 MB for a 1,000-node lab.
        let planned = topology.nodes.map { node in
            (node: node, path: directory(of: topology.namespaceName(of: node.name)),
             names: fileNames(of: node, hostHasResolvConf: hostHasResolvConf))
        }
        // Every intent in one record write, every directory, every confirmation in a second write,
        // then the files. A crash before a directory is confirmed leaves it empty, and destroy
        // removes empty unconfirmed directories; one write per directory cost a second per
        // thousand nodes.
        try record.append(planned.map { RecordEntry(event: .etcDirectory, path: $0.path, files: $0.names) })
        // Creating directories and files waits on the disk more than it computes, so several
        // threads do it at once (1,000 nodes: 1.2-1.7 s on one thread).
        let confirmations = try NamespaceThread.forEach(planned, threads: NodeFiles.fileThreads) { entry in
            try makeDirectory(entry.path, record: record)
            var info = stat()
            return RecordEntry(event: .etcDirectoryCreated, inode: stat(entry.path, &info) == 0 ? UInt64(info.st_ino) : nil,
                               path: entry.path)
        }
        try record.append(confirmations)

        // The generated files are the same for every node that gets them (hosts: for every node
        // with an address): each is written once, into the first node's directory, and
        // hard-linked into the others, so a 1,000-node lab writes two files instead of 2,000.
        var shared: [String: String] = [:]
        func isShared(_ name: String, of node: Node) -> Bool {
            guard !node.files.contains(where: { $0.name == name }) else { return false }
            return name == "resolv.conf" || (name == "hosts" && hosts.addressed.contains(node.name))
        }
        for entry in planned {
            for name in entry.names where shared[name] == nil && isShared(name, of: entry.node) {
                let target = "\(entry.path)/\(name)"
                try write(target, content(of: name, node: entry.node, lab: topology.name, hosts: hosts), node: entry.node)
                shared[name] = target
            }
        }
        _ = try NamespaceThread.forEach(planned, threads: NodeFiles.fileThreads) { entry in
            for name in entry.names {
                let target = "\(entry.path)/\(name)"
                if isShared(name, of: entry.node), let original = shared[name] {
                    if original == target || link(original, target) == 0 { continue }
                }
                try write(target, content(of: name, node: entry.node, lab: topology.name, hosts: hosts), node: entry.node)
            }
        }
    }

    /// Threads creating or removing /etc files at once: enough to keep the disk busy, since the
    /// work is waiting, not computing (1,000 rmdirs: 3.8 s on one thread, 0.23 s on four).
    static let fileThreads = 8

    private static func write(_ path: String, _ content: String, node: Node) throws {
        do {
            try writeNewFile(path, Array(content.utf8))
        } catch {
            throw LabError.system(error, context: "writing the /etc files of node \(node.name)")
        }
    }

    /// The names of the files a node gets, in the order `files(of:in:)` gives them.
    static func fileNames(of node: Node, hostHasResolvConf: Bool) -> [String] {
        let declared = node.files.map(\.name)
        var names: [String] = []
        if !declared.contains("hosts") { names.append("hosts") }
        if hostHasResolvConf && !declared.contains("resolv.conf") { names.append("resolv.conf") }
        return names + declared
    }

    /// A file that must not exist yet, written in one go, mode 0644 (no temporary file and no
    /// fsync: the lab is gone at reboot anyway).
    private static func writeNewFile(_ path: String, _ bytes: [UInt8]) throws(SystemCallError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemCallError("create \(path)") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = retryingInterrupted { bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
            guard written > 0 else { throw SystemCallError("write \(path)") }
            offset += written
        }
    }

    /// /etc/netns, when there is none: recorded as this lab's, so its destroy removes it if empty.
    static func makeRootIfMissing(record: LabRecord) throws {
        if FileManager.default.fileExists(atPath: root) { return }
        try record.append([RecordEntry(event: .etcDirectory, path: root, files: [])])
        if mkdir(root, 0o755) == 0 {
            // Marked as nslab's for every lab: the last lab to leave removes it, whichever made it.
            _ = setxattr(root, rootMark, "1", 1, 0)
            try confirm(root, record: record)
        } else if errno != EEXIST {
            throw LabError.system(SystemCallError("mkdir \(root)"), context: "creating per-node /etc files")
        }
    }

    static func makeDirectory(_ path: String, record: LabRecord) throws {
        var attempts = 0
        while mkdir(path, 0o755) != 0 {
            // Another lab's destroy may remove an empty /etc/netns between the check and here.
            if errno == ENOENT && attempts < 3 {
                attempts += 1
                try makeRootIfMissing(record: record)
                continue
            }
            if errno == EEXIST {
                throw LabError.collision(["\(path) appeared while the lab was being deployed; nslab did not create it"])
            }
            throw LabError.system(SystemCallError("mkdir \(path)"), context: "creating per-node /etc files")
        }
    }

    static func confirm(_ path: String, record: LabRecord) throws {
        var info = stat()
        let inode: UInt64? = stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
        try record.append([RecordEntry(event: .etcDirectoryCreated, inode: inode, path: path)])
    }

    /// Removes what the record says nslab created, newest first: its files, then the directory
    /// if it is empty (files someone added by hand keep it, and them). A directory whose creation
    /// was never confirmed is removed only if empty. /etc/netns goes when nslab made it and no
    /// lab uses it any more.
    static func remove(_ directories: [NodeEnvironmentRecord.Directory]) {
        // /etc/netns itself last: it can only go once empty. An rmdir waits on the disk (ext4
        // frees the directory's block; with `discard` that took 3.5 ms each here).
        let nodeDirectories = Array(directories.filter { $0.path != root }.reversed())
        _ = try? NamespaceThread.forEach(nodeDirectories, threads: fileThreads) { removeIfOurs($0) }
        if getxattr(root, rootMark, nil, 0) >= 0 {
            _ = rmdir(root)  // made by nslab (for this lab or another): gone once no lab uses it
        } else if let recorded = directories.first(where: { $0.path == root }) {
            removeIfOurs(recorded)  // file systems without user xattrs: only the lab that made it
        }
    }

    /// An extended attribute nslab puts on the /etc/netns it creates, so that whichever lab is
    /// destroyed last removes it, and a /etc/netns someone else made is never removed.
    static let rootMark = "user.nslab.created"

    private static func removeIfOurs(_ directory: NodeEnvironmentRecord.Directory) {
        var info = stat()
        guard stat(directory.path, &info) == 0 else { return }
        if let inode = directory.inode {
            guard UInt64(info.st_ino) == inode else { return }  // replaced: someone else's now
            for file in directory.files { _ = unlink("\(directory.path)/\(file)") }
        }
        _ = rmdir(directory.path)
    }
}
