import Foundation
import Namespaces
import Netlink
import Routing

/// Leftovers that look like nslab's, found from both sides: records whose resources are gone,
/// resources no record lists, and namespaces that lost their mount but live on through a
/// process. Each finding says what it is and how `nslab doctor --yes` cleans it.
public struct DoctorFinding: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// A lab's record under /run/nslab, none of whose namespaces exist any more.
        case recordWithoutResources = "record-without-resources"
        /// A named namespace whose interfaces carry nslab's alias, listed in no record.
        case namespaceWithoutRecord = "namespace-without-record"
        /// A namespace with nslab's aliases that no name refers to, kept alive by processes.
        case namespaceKeptByProcesses = "namespace-kept-by-processes"
        /// An /etc/netns/NODE directory with files nslab wrote, listed in no record.
        case etcFilesWithoutRecord = "etc-files-without-record"
        /// An /etc/frr/NODE directory (and its /var/run/frr/NODE) nslab wrote for a node running
        /// FRR, listed in no record.
        case frrFilesWithoutRecord = "frr-files-without-record"
    }

    public var kind: Kind
    /// The lab the record or the interface aliases name.
    public var lab: String
    /// Namespace name, or "pid N" for an unnamed one.
    public var subject: String
    public var processes: [Int32]
    public var detail: String
}

public enum Doctor {
    public static func examine() -> [DoctorFinding] {
        var findings: [DoctorFinding] = []
        var recorded = Set<String>()
        for lab in LabRecord.labs() {
            guard let summary = try? LabRecord.read(lab: lab).summary else { continue }
            recorded.formUnion(summary.namespaces.map(\.name))
            let alive = summary.namespaces.filter { entry in
                guard let inode = NamedNamespaces.inode(of: entry.name) else { return false }
                return summary.inodes[entry.name].map { $0 == inode } ?? true
            }
            if alive.isEmpty {
                findings.append(DoctorFinding(kind: .recordWithoutResources, lab: lab, subject: "\(LabRecord.root)/\(lab)",
                                              processes: [],
                                              detail: "\(summary.namespaces.count == 1 ? "its namespace does not exist" : "none of its \(summary.namespaces.count) namespaces exists"); the record can go"))
            }
        }

        findings += orphanEtcDirectories()
        findings += orphanFRRDirectories()

        var mounted = Set<UInt64>()
        for name in NamedNamespaces.list() {
            guard let inode = NamedNamespaces.inode(of: name) else { continue }
            mounted.insert(inode)
            guard !recorded.contains(name), let namespace = try? NetworkNamespace.open(name),
                  let lab = nslabLab(of: namespace) else { continue }
            findings.append(DoctorFinding(kind: .namespaceWithoutRecord, lab: lab, subject: name, processes: [],
                                          detail: "its loopback is tagged nslab:\(lab)/… but no lab's record lists it"))
        }

        // Unnamed namespaces: those of processes, minus the host's and the mounted ones.
        var hostInode: UInt64 = 0
        var info = stat()
        if stat("/proc/1/ns/net", &info) == 0 { hostInode = UInt64(info.st_ino) }
        let byInode = Dictionary(grouping: NamespaceProcesses.pids { $0 != hostInode && !mounted.contains($0) }, by: \.inode)
            .mapValues { $0.map(\.pid) }
        for (_, pids) in byInode.sorted(by: { $0.key < $1.key }) {
            guard let first = pids.min(),
                  let namespace = try? NetworkNamespace.open(path: "/proc/\(first)/ns/net", describedAs: "pid \(first)"),
                  let lab = nslabLab(of: namespace) else { continue }
            findings.append(DoctorFinding(kind: .namespaceKeptByProcesses, lab: lab, subject: "pid \(first)",
                                          processes: pids.sorted(),
                                          detail: "a namespace of lab \(lab) with no name left, alive only through \(counted(pids.count, "process", "processes"))"))
        }
        return findings
    }

    /// How the files nslab generates begin (HostsFile, NodeFiles.resolvConf): what marks them.
    static let hostsHeader = "# /etc/hosts of the nodes of lab "
    static let resolvHeader = "# resolv.conf of the nodes of lab "

    static func orphanEtcDirectories() -> [DoctorFinding] {
        let recorded = Set(LabRecord.labs().flatMap { NodeEnvironmentRecord(lab: $0).directories.map(\.path) })
        var findings: [DoctorFinding] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: NodeFiles.root)) ?? []).sorted() {
            let path = "\(NodeFiles.root)/\(name)"
            guard !recorded.contains(path),
                  let hosts = try? String(contentsOfFile: "\(path)/hosts", encoding: .utf8), hosts.hasPrefix(hostsHeader)
            else { continue }
            let lab = hosts.dropFirst(hostsHeader.count).prefix { $0 != "," && $0 != "\n" }
            findings.append(DoctorFinding(kind: .etcFilesWithoutRecord, lab: String(lab), subject: path, processes: [],
                                          detail: "/etc files nslab wrote for a node, listed in no lab's record"))
        }
        return findings
    }

    /// /etc/frr/NODE directories whose daemons file nslab wrote, that no record lists.
    static func orphanFRRDirectories() -> [DoctorFinding] {
        let recorded = Set(LabRecord.labs().flatMap { NodeEnvironmentRecord(lab: $0).frrDirectories.map(\.path) })
        var findings: [DoctorFinding] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: FRRPaths.configRoot)) ?? []).sorted() {
            let path = FRRPaths.configDirectory(name)
            guard !recorded.contains(path),
                  let daemons = try? String(contentsOfFile: "\(path)/daemons", encoding: .utf8),
                  daemons.hasPrefix(FRRConfig.daemonsFileHeader) else { continue }
            let lab = daemons.dropFirst(FRRConfig.daemonsFileHeader.count).prefix { $0 != "," && $0 != "\n" }
            findings.append(DoctorFinding(kind: .frrFilesWithoutRecord, lab: String(lab), subject: path, processes: [],
                                          detail: "FRR files nslab wrote for a node (and \(FRRPaths.runDirectory(name))), listed in no lab's record"))
        }
        return findings
    }

    /// The lab named by the nslab alias on the namespace's loopback, if it has one.
    static func nslabLab(of namespace: NetworkNamespace) -> String? {
        guard let links = try? namespace.run({ try NetlinkSocket().links() }) else { return nil }
        for link in links {
            guard let alias = link.alias, alias.hasPrefix("nslab:") else { continue }
            return String(alias.dropFirst("nslab:".count).split(separator: "/").first ?? "")
        }
        return nil
    }

    /// Cleans one finding: the record removed, the namespace unmounted, the processes ended.
    public static func fix(_ finding: DoctorFinding) throws {
        switch finding.kind {
        case .recordWithoutResources:
            let record = try LabRecord(lab: finding.lab, create: false)
            _ = try LabDestroyer.destroy(record: record, unconfirmed: .removeIfOurs)
        case .namespaceWithoutRecord:
            if let inode = NamedNamespaces.inode(of: finding.subject) {
                NamespaceProcesses.terminateAll(inNamespacesWithInodes: [inode])
            }
            do {
                try NamedNamespaces.delete(finding.subject)
            } catch let error as NamespaceError {
                throw LabError.namespace(error)
            }
        case .etcFilesWithoutRecord:
            // Only the files nslab wrote (known by their first line); a file added by hand keeps
            // the directory, and itself.
            for name in (try? FileManager.default.contentsOfDirectory(atPath: finding.subject)) ?? [] {
                let file = "\(finding.subject)/\(name)"
                guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                      text.hasPrefix(hostsHeader) || text.hasPrefix(resolvHeader) else { continue }
                unlink(file)
            }
            rmdir(finding.subject)
        case .frrFilesWithoutRecord:
            // The node's FRR directories, with what FRR put in them; FRR's own root stays.
            let name = (finding.subject as NSString).lastPathComponent
            for path in [finding.subject, FRRPaths.runDirectory(name)] where !name.isEmpty {
                for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { unlink("\(path)/\(entry)") }
                rmdir(path)
            }
        case .namespaceKeptByProcesses:
            // Only the processes still in that namespace: a recycled pid is someone else now.
            var info = stat()
            guard let first = finding.processes.first, stat("/proc/\(first)/ns/net", &info) == 0 else { return }
            NamespaceProcesses.terminateAll(inNamespacesWithInodes: [UInt64(info.st_ino)])
        }
    }
}
