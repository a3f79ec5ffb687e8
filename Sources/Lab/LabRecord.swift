import Foundation
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// One line of a lab's journal. Intents are written before the thing they name is created, so
/// that whatever moment nslab dies at, the journal lists everything that may exist.
public struct RecordEntry: Codable, Sendable, Equatable {
    public enum Event: String, Codable, Sendable {
        /// The first line: which lab, from which file and which text.
        case lab
        /// A namespace is about to be created.
        case namespace
        /// The namespace exists; `inode` identifies it from now on.
        case namespaceCreated = "namespace-created"
        /// Veth pairs are about to be created (both ends inside lab namespaces).
        case links
        /// Everything the topology asks for is in place.
        case deployed
        /// A directory /etc/netns/NAMESPACE (or /etc/netns itself) is about to be created, with
        /// the `files` nslab will write into it; `path` names it.
        case etcDirectory = "etc-directory"
        /// That directory exists and nslab made it: `inode` identifies it.
        case etcDirectoryCreated = "etc-directory-created"
        /// A node's UTS namespace is about to be mounted at `path`.
        case uts
        /// The UTS namespace exists; `inode` identifies it.
        case utsCreated = "uts-created"
        /// nslab started a process inside `node`: `pid`, `startTicks` (field 22 of /proc/PID/stat,
        /// so a recycled pid is not mistaken for it), `command`, its log at `path`.
        case process
        /// A converge removed node `node` (namespace `name`), its host name, files and processes.
        case nodeRemoved = "node-removed"
        /// A converge made the lab match the topology `file` with content `hash` (saved beside
        /// the journal); `name` is "reset" when recorded link states were dropped with it.
        case converged
        /// `nslab link … down|up` changed `interfaces` (both ends of a link) to `up`: a later
        /// deploy keeps that state until `deploy --reset`.
        case linkState = "link-state"
        /// `nslab node … stop|start` stopped `node` (`up` false) or started it again: a later
        /// deploy keeps it so until `deploy --reset`.
        case nodeState = "node-state"
        /// A directory of node `node`'s FRR (/etc/frr/NAMESPACE or /var/run/frr/NAMESPACE) is
        /// about to be created at `path`.
        case frrDirectory = "frr-directory"
        /// That directory exists and nslab made it: `inode` identifies it.
        case frrDirectoryCreated = "frr-directory-created"
    }

    public var event: Event
    public var lab: String?
    public var file: String?
    public var hash: String?
    public var prefix: String?
    public var time: Double?
    public var name: String?
    public var node: String?
    public var inode: UInt64?
    public var interfaces: [String]?
    public var path: String?
    public var files: [String]?
    public var pid: Int32?
    public var startTicks: UInt64?
    public var command: [String]?
    public var up: Bool?

    public init(event: Event, lab: String? = nil, file: String? = nil, hash: String? = nil, prefix: String? = nil,
                time: Double? = nil, name: String? = nil, node: String? = nil, inode: UInt64? = nil,
                interfaces: [String]? = nil, path: String? = nil, files: [String]? = nil, pid: Int32? = nil,
                startTicks: UInt64? = nil, command: [String]? = nil, up: Bool? = nil) {
        self.event = event; self.lab = lab; self.file = file; self.hash = hash; self.prefix = prefix
        self.time = time; self.name = name; self.node = node; self.inode = inode; self.interfaces = interfaces
        self.path = path; self.files = files; self.pid = pid; self.startTicks = startTicks; self.command = command
        self.up = up
    }
}

/// What a lab's journal says, folded.
public struct RecordSummary: Sendable {
    public var lab: String
    public var file: String?
    public var hash: String?
    public var deployedAt: Double?
    public var startedAt: Double?
    public var isComplete: Bool
    /// Namespace name → node name, in creation order.
    public var namespaces: [(name: String, node: String)]
    /// Namespace name → inode, for those whose creation was confirmed.
    public var inodes: [String: UInt64]
    /// Node name → how many link ends it has.
    public var interfaceCounts: [String: Int] = [:]
    /// Link ends `nslab link` took down or up since the last `deploy --reset`: "NODE:IFACE" → up.
    public var linkStates: [String: Bool] = [:]
    /// Nodes `nslab node … stop` stopped (and no start or `deploy --reset` started since).
    public var stoppedNodes: Set<String> = []

    /// The events the summary is folded from.
    public static let events: Set<RecordEntry.Event> = [.lab, .namespace, .namespaceCreated, .links, .deployed,
                                                        .nodeRemoved, .converged, .linkState, .nodeState]

    init(lab: String, entries: [RecordEntry]) {
        self.lab = lab
        isComplete = false
        namespaces = []
        inodes = [:]
        var named = Set<String>()
        for entry in entries {
            switch entry.event {
            case .lab:
                file = entry.file; hash = entry.hash; startedAt = entry.time
            case .namespace:
                if let name = entry.name, named.insert(name).inserted {
                    namespaces.append((name, entry.node ?? name))
                }
            case .namespaceCreated:
                if let name = entry.name, let inode = entry.inode { inodes[name] = inode }
            case .links:
                // "NODE:IFACE": an interface name has no ':'.
                for id in entry.interfaces ?? [] {
                    if let colon = id.lastIndex(of: ":") { interfaceCounts[String(id[..<colon]), default: 0] += 1 }
                }
            case .etcDirectory, .etcDirectoryCreated, .uts, .utsCreated, .process, .frrDirectory, .frrDirectoryCreated:
                break  // folded by NodeEnvironmentRecord
            case .deployed:
                isComplete = true; deployedAt = entry.time; hash = entry.hash ?? hash
            case .nodeRemoved:
                if let name = entry.name {
                    namespaces.removeAll { $0.name == name }
                    named.remove(name)
                    inodes[name] = nil
                }
                if let node = entry.node { interfaceCounts[node] = nil; stoppedNodes.remove(node) }
            case .converged:
                // A converge finishes what an interrupted deploy began.
                isComplete = true; hash = entry.hash ?? hash; file = entry.file ?? file
                if entry.name == "reset" { linkStates = [:]; stoppedNodes = [] }
            case .linkState:
                for id in entry.interfaces ?? [] { linkStates[id] = entry.up }
            case .nodeState:
                if let node = entry.node {
                    if entry.up == false { stoppedNodes.insert(node) } else { stoppedNodes.remove(node) }
                }
            }
        }
    }
}

/// A lab's ownership record: /run/nslab/LAB/, on tmpfs like the namespaces it lists, so both
/// vanish together at reboot. The directory is flocked while a command changes the lab.
public final class LabRecord: @unchecked Sendable {
    public static let root = "/run/nslab"
    static let journalName = "record.jsonl"
    static let topologyName = "topology.yaml"

    public let lab: String
    public let directory: String
    private let lockFD: Int32

    public var journalPath: String { "\(directory)/\(LabRecord.journalName)" }
    public var topologyCopyPath: String { "\(directory)/\(LabRecord.topologyName)" }

    /// Lab names become directory names: the same rule as node names, checked here again because
    /// `destroy LAB` takes a name straight from the command line.
    public static func validate(lab: String) throws {
        let allowed = lab.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
        }
        guard !lab.isEmpty, lab.utf8.count <= 64, allowed, lab != ".", lab != "..",
              lab.first.map({ $0.isLetter || $0.isNumber }) == true else {
            throw LabError.invalidLabName(lab)
        }
    }

    /// Labs that have a record, sorted by name.
    public static func labs() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(root)/\(name)", isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }

    public static func exists(lab: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(root)/\(lab)/\(journalName)")
    }

    /// Opens (creating if asked) the lab's directory and takes its lock. A lab being changed by
    /// another process is waited for when `wait` is true, refused otherwise.
    public init(lab: String, create: Bool, wait: Bool = true) throws {
        try LabRecord.validate(lab: lab)
        self.lab = lab
        self.directory = "\(LabRecord.root)/\(lab)"
        if create {
            for path in [LabRecord.root, directory] where mkdir(path, 0o755) != 0 && errno != EEXIST {
                throw LabError.system(SystemCallError("mkdir \(path)"), context: "recording lab \(lab)")
            }
        }
        while true {
            let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT { throw LabError.notDeployed(lab) }
                throw LabError.system(SystemCallError("open \(directory)"), context: "reading lab \(lab)")
            }
            if flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
                close(fd)
                throw LabError.lockedByAnother(lab: lab)
            }
            // The holder we waited for may have destroyed the lab and removed the directory.
            var held = stat(), current = stat()
            if fstat(fd, &held) == 0, stat(directory, &current) == 0, held.st_ino == current.st_ino {
                lockFD = fd
                return
            }
            close(fd)
            if !create { throw LabError.notDeployed(lab) }
            if mkdir(directory, 0o755) != 0 && errno != EEXIST {
                throw LabError.system(SystemCallError("mkdir \(directory)"), context: "recording lab \(lab)")
            }
        }
    }

    deinit { close(lockFD) }

    /// The journal's entries, or only those of the given events (the others are not decoded).
    public func entries(_ events: Set<RecordEntry.Event>? = nil) throws -> [RecordEntry] {
        LabRecord.entries(atPath: journalPath, events: events)
    }

    /// Reads a lab's record without taking its lock: the journal is only ever appended to, so a
    /// reader sees a consistent prefix of it.
    public static func read(lab: String) throws -> (summary: RecordSummary, topology: String?) {
        try validate(lab: lab)
        let directory = "\(root)/\(lab)"
        guard FileManager.default.fileExists(atPath: "\(directory)/\(journalName)") else { throw LabError.notDeployed(lab) }
        let summary = RecordSummary(lab: lab, entries: entries(atPath: "\(directory)/\(journalName)"))
        let topology = FileManager.default.contents(atPath: "\(directory)/\(topologyName)").map { String(decoding: $0, as: UTF8.self) }
        return (summary, topology)
    }

    static func entries(atPath path: String, events: Set<RecordEntry.Event>? = nil) -> [RecordEntry] {
        Array(JournalEntries(path: path, events: events))
    }

    static let linesPerDecode = 1024

    private static let eventKey = Array(#"{"event":""#.utf8)

    /// The event a journal line names in its first key, read without decoding the line.
    static func eventPrefix(of line: some Collection<UInt8>) -> RecordEntry.Event? {
        guard line.starts(with: eventKey) else { return nil }
        let value = line.dropFirst(eventKey.count).prefix { $0 != UInt8(ascii: "\"") }
        return RecordEntry.Event(rawValue: String(decoding: value, as: UTF8.self))
    }

    public func summary() throws -> RecordSummary { RecordSummary(lab: lab, entries: try entries()) }

    /// Appends entries in one write before returning: an intent must be on record before the
    /// thing it names is created. No fsync: a write survives the process being killed at any
    /// moment (it is in the kernel's page cache), and only a machine crash loses it, which takes
    /// the namespaces with it; /etc/netns leftovers are what `nslab doctor` finds. (Syncing cost
    /// 0.1 s per 300 namespaces for nothing.)
    public func append(_ newEntries: [RecordEntry]) throws {
        if newEntries.isEmpty { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for entry in newEntries {
            data.append(try encoder.encode(entry))
            data.append(UInt8(ascii: "\n"))
        }
        let fd = open(journalPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LabError.system(SystemCallError("open \(journalPath)"), context: "recording lab \(lab)") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else {
            throw LabError.system(SystemCallError("write \(journalPath)"), context: "recording lab \(lab)")
        }
    }

    public func saveTopology(_ text: String) throws {
        guard FileManager.default.createFile(atPath: topologyCopyPath, contents: Data(text.utf8)) else {
            throw LabError.system(SystemCallError("write \(topologyCopyPath)"), context: "recording lab \(lab)")
        }
    }

    /// Removes the record. Called last by destroy, with the lock still held.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
        _ = rmdir(LabRecord.root)  // only if no other lab is left
    }
}

/// FNV-1a, 64 bits: enough to tell whether a topology file changed since it was deployed.
func contentHash(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// A journal's entries, or only those of the given events, decoded as they are iterated,
/// `LabRecord.linesPerDecode` lines per decoder call: one call per line took destroy 70 ms at
/// 5,000 lines (a 1,000-node lab), and one call for all of them made a 10,000-node lab's 60,000
/// lines a 37 MB parse for a moment, at inspect's and verify's peak. What folds the journal
/// (NodeEnvironmentRecord) keeps only what it folds.
struct JournalEntries: Sequence, IteratorProtocol {
    private let lines: [Data]
    private let events: Set<RecordEntry.Event>?
    private let decoder = JSONDecoder()
    private var nextLine = 0
    private var decoded: [RecordEntry] = []
    private var position = 0

    init(path: String, events: Set<RecordEntry.Event>?) {
        self.events = events
        let data = FileManager.default.contents(atPath: path) ?? Data()
        // Each line starts {"event":"…" (keys sorted): the rest of a line is decoded only if
        // its event is wanted. A line of another shape is decoded and sorted out afterwards.
        lines = data.split(separator: UInt8(ascii: "\n")).filter { line in
            !line.isEmpty && (events == nil || LabRecord.eventPrefix(of: line).map { events?.contains($0) == true } ?? true)
        }
    }

    mutating func next() -> RecordEntry? {
        while position == decoded.count {
            guard nextLine < lines.count else { return nil }
            let chunk = lines[nextLine..<Swift.min(nextLine + LabRecord.linesPerDecode, lines.count)]
            nextLine += chunk.count
            var array = Data("[".utf8)
            for (number, line) in chunk.enumerated() {
                if number > 0 { array.append(UInt8(ascii: ",")) }
                array.append(contentsOf: line)
            }
            array.append(UInt8(ascii: "]"))
            decoded = (try? decoder.decode([RecordEntry].self, from: array))
                // A line cut short by a crash mid-write is the only one that can be damaged: skip it.
                ?? chunk.compactMap { try? decoder.decode(RecordEntry.self, from: $0) }
            if let events { decoded.removeAll { !events.contains($0.event) } }
            position = 0
        }
        position += 1
        return decoded[position - 1]
    }
}
