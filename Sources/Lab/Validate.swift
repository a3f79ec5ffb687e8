import CShims
import Foundation
import Namespaces
import Netlink
import Routing
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// One finding of `nslab validate`, at a place in a topology file: what editors and CI read.
public struct ValidationDiagnostic: Sendable, Equatable, Encodable, CustomStringConvertible {
    public enum Severity: String, Sendable, Encodable {
        /// Deploy would refuse the file on this machine (exit 2).
        case error
        /// Deploy would go ahead, but something will not work as the file may intend.
        case warning
        /// Worth knowing, nothing wrong (the lab is already deployed from this file).
        case note
    }

    public var file: String
    public var line: Int
    public var column: Int
    public var severity: Severity
    public var message: String
    public var hint: String?

    public init(_ location: SourceLocation, _ severity: Severity, _ message: String, hint: String? = nil) {
        file = location.file; line = location.line; column = location.column
        self.severity = severity; self.message = message; self.hint = hint
    }

    /// A diagnostic of the topology parser: its errors are deploy's errors.
    public init(_ diagnostic: Diagnostic) {
        self.init(diagnostic.location, .error, diagnostic.message, hint: diagnostic.hint)
    }

    /// Every key always present (`hint` null when there is none), so that consumers need no
    /// special case.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(line, forKey: .line)
        try container.encode(column, forKey: .column)
        try container.encode(severity, forKey: .severity)
        try container.encode(message, forKey: .message)
        try container.encode(hint, forKey: .hint)
    }

    private enum CodingKeys: String, CodingKey { case file, line, column, severity, message, hint }

    /// "file:line:column: severity: message", then the hint indented: as compilers write them.
    public var description: String {
        var text = "\(file):\(line):\(column): \(severity.rawValue): \(message)"
        if let hint { text += "\n    hint: \(hint)" }
        return text
    }
}

/// What `nslab validate` found in one file.
public struct FileValidation: Sendable {
    public var file: String
    /// The lab's name, when the file parsed.
    public var lab: String?
    public var nodes: Int = 0
    public var links: Int = 0
    /// In file order.
    public var diagnostics: [ValidationDiagnostic]

    public var isValid: Bool { !diagnostics.contains { $0.severity == .error } }
}

/// Everything deploy checks before it changes anything, without changing anything: the file
/// (syntax, keys, names, addresses, routes, VLANs: Topology's validation), and this machine
/// (namespace names and /etc/netns directories taken by someone else or by another lab, per-node
/// files with nothing in /etc to bind over, `commands:` programs not installed, kernel features
/// the lab needs and the kernel lacks, the neighbour table limits, root).
///
/// Deploy's own checks live in LabDeployer.checkCollisions and NodeEnvironment.collisions, which
/// report without source locations; these say the same things at the node, file or command that
/// causes them. A check added to deploy belongs here too.
public enum LabValidator {
    public struct Options: Sendable {
        /// Checks against this machine (names taken, programs, /etc, root); off: the file alone.
        public var host = true
        /// Tries the kernel features the lab needs (veth, bridge, 802.1Q, netem, tbf) in a
        /// throwaway network namespace of its own that vanishes with the thread that made it.
        /// Needs root; skipped with a warning without it.
        public var kernel = true

        public init(host: Bool = true, kernel: Bool = true) {
            self.host = host; self.kernel = kernel
        }
    }

    /// Validates every file, and the files against each other: two files that would deploy
    /// the same lab, or the same namespace names, cannot both be deployed.
    public static func validate(files: [String], options: Options = Options()) -> [FileValidation] {
        var results: [FileValidation] = []
        var labs: [String: String] = [:]           // lab → the first file that names it
        var namespaces: [String: (file: String, node: String)] = [:]
        // Each feature is tried once for all the files.
        // Without root they cannot be tried: the warning about root says so, once per file.
        var answers: [KernelFeature: KernelFeatures.Outcome] = [:]
        let privileged = (try? Privileges.check(for: "deploy a lab")) != nil
        let kernel: ((KernelFeature, Impairment?) -> KernelFeatures.Outcome)? = options.host && options.kernel && privileged ? { feature, impairment in
            if let known = answers[feature] { return known }
            let outcome = KernelFeatures.probe(feature, impairment)
            answers[feature] = outcome
            return outcome
        } : nil
        for file in files {
            var (result, topology) = validate(file: file, options: options, kernel: kernel)
            if let topology {
                let top = SourceLocation(file: file, line: 1, column: 1)
                if let other = labs[topology.name] {
                    result.diagnostics.append(ValidationDiagnostic(
                        top, .error, "lab \"\(topology.name)\" is also the lab of \(other): only one of the two can be deployed",
                        hint: "give one of them another `name:`"))
                } else {
                    labs[topology.name] = file
                    for node in topology.nodes {
                        let name = topology.namespaceName(of: node.name)
                        if let other = namespaces[name] {
                            result.diagnostics.append(ValidationDiagnostic(
                                node.location, .error,
                                "namespace \"\(name)\" (node \(node.name)) is also node \(other.node)'s in \(other.file): the two labs cannot both be deployed",
                                hint: "rename the node, or set `prefix:` in one of the files"))
                        } else {
                            namespaces[name] = (file, node.name)
                        }
                    }
                }
            }
            result.diagnostics = sorted(result.diagnostics)
            results.append(result)
        }
        return results
    }

    /// One file. `kernel` probes a feature (nil: not checked).
    static func validate(file: String, options: Options,
                         kernel: ((KernelFeature, Impairment?) -> KernelFeatures.Outcome)?) -> (FileValidation, Topology?) {
        var result = FileValidation(file: file, diagnostics: [])
        let text: String
        let topology: Topology
        do {
            text = try Topology.readText(path: file)
            topology = try Topology.parse(yaml: text, file: file)
        } catch {
            result.diagnostics = error.diagnostics.map(ValidationDiagnostic.init)
            return (result, nil)
        }
        result.lab = topology.name
        result.nodes = topology.nodes.count
        result.links = topology.links.count
        result.diagnostics += topology.notes.map { ValidationDiagnostic($0.location, .note, $0.message, hint: $0.hint) }
        if let ttl = LabDeployer.ttlNote(topology) {
            result.diagnostics.append(ValidationDiagnostic(SourceLocation(file: file, line: 1, column: 1), .note, ttl))
        }
        if options.host {
            result.diagnostics += hostDiagnostics(topology, sourceText: topology.recordedText(source: text))
            if let kernel { result.diagnostics += kernelDiagnostics(topology, probe: kernel) }
        }
        result.diagnostics = sorted(result.diagnostics)
        return (result, topology)
    }

    /// File order, errors before warnings at one place.
    static func sorted(_ diagnostics: [ValidationDiagnostic]) -> [ValidationDiagnostic] {
        let rank: [ValidationDiagnostic.Severity: Int] = [.error: 0, .warning: 1, .note: 2]
        return diagnostics.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            if x.file != y.file { return x.file < y.file }
            if x.line != y.line { return x.line < y.line }
            if x.column != y.column { return x.column < y.column }
            if x.severity != y.severity { return rank[x.severity, default: 3] < rank[y.severity, default: 3] }
            return a.offset < b.offset
        }.map(\.element)
    }

    // MARK: - This machine

    /// What deploy checks on the machine before it creates anything, each at the place in the
    /// file that causes it.
    static func hostDiagnostics(_ topology: Topology, sourceText: String) -> [ValidationDiagnostic] {
        var out: [ValidationDiagnostic] = []
        let top = SourceLocation(file: topology.file, line: 1, column: 1)
        do {
            try Privileges.check(for: "deploy a lab")
        } catch {
            out.append(ValidationDiagnostic(top, .warning, "\(error)",
                                            hint: "validate checked what it could without: names, files, programs; not the kernel's features"))
        }

        // The lab's own record: deploy converges a lab that is (or was half) deployed.
        var own = OwnLab(namespaces: [:], directories: [])
        if LabRecord.exists(lab: topology.name), let recorded = try? LabRecord.read(lab: topology.name) {
            let summary = recorded.summary
            for entry in summary.namespaces {
                own.namespaces[entry.name] = summary.inodes[entry.name]
            }
            own.directories = Set(NodeEnvironmentRecord(lab: topology.name).directories.map(\.path))
            if summary.startedAt != nil && !summary.isComplete {
                out.append(ValidationDiagnostic(
                    top, .note, "a deploy of lab \"\(topology.name)\" was cut short; deploying this file converges it from what exists"))
            } else if summary.startedAt != nil {
                out.append(ValidationDiagnostic(
                    top, .note, "lab \"\(topology.name)\" is deployed; deploying this file changes only what differs",
                    hint: "`nslab diff \(topology.file)` shows what would change"))
            }
        }

        // Namespace names and /etc/netns directories someone else holds.
        let claimed = LabDeployer.otherLabsNamespaces(except: topology.name)
        for node in topology.nodes {
            let name = topology.namespaceName(of: node.name)
            do {
                try NamedNamespaces.validate(name)
            } catch {
                out.append(ValidationDiagnostic(node.location, .error, "node \(node.name): \(error)",
                                                hint: "rename the node (or change `prefix:`)"))
                continue
            }
            if let lab = claimed[name] {
                out.append(ValidationDiagnostic(
                    node.location, .error, "namespace \"\(name)\" (node \(node.name)) belongs to lab \"\(lab)\"",
                    hint: "rename the node, set `prefix:` in the topology file, or `nslab destroy \(lab)`"))
            } else if NamedNamespaces.exists(name) && !own.holds(namespace: name) {
                out.append(ValidationDiagnostic(
                    node.location, .error,
                    "namespace \"\(name)\" (node \(node.name)) already exists and nslab did not create it: \(NamedNamespaces.path(of: name))",
                    hint: "rename the node, set `prefix:` in the topology file, or remove it (`ip netns delete \(name)`) if nothing uses it"))
            }
            let directory = NodeFiles.directory(of: name)
            if FileManager.default.fileExists(atPath: directory) && !own.directories.contains(directory) {
                out.append(ValidationDiagnostic(
                    node.location, .error,
                    "\(directory) (the /etc files of node \(node.name)) already exists and nslab did not create it",
                    hint: "rename the node, set `prefix:`, or remove the directory if it is a leftover"))
            }
            for file in node.files where !FileManager.default.fileExists(atPath: "/etc/\(file.name)") {
                out.append(ValidationDiagnostic(
                    file.location, .error,
                    "node \(node.name): /etc/\(file.name) does not exist on this machine, so /etc/netns/\(name)/\(file.name) could not be bound over it",
                    hint: "create an empty /etc/\(file.name) on the host, or leave the file out"))
            }
            for command in node.commands {
                guard let program = command.argv.first, Spawn.resolve(program) == nil else { continue }
                out.append(ValidationDiagnostic(
                    command.location, .error, "node \(node.name): \(program) not found (searched PATH)",
                    hint: "install it, or give its full path"))
            }
        }

        // A kernel booted with ipv6.disable=1 (or built without IPv6) has no /proc/sys/net/ipv6:
        // deploy would stop at the first IPv6 address or route.
        if topology.hasIPv6 && !FileManager.default.fileExists(atPath: ipv6Directory) {
            out.append(ValidationDiagnostic(
                firstIPv6Use(topology) ?? top, .error, "the lab has IPv6 addresses or routes, and IPv6 is disabled in this kernel (no \(ipv6Directory))",
                hint: "boot without ipv6.disable=1, or leave IPv6 out of the file"))
        }
        if let warning = LabDeployer.neighbourTableWarning(topology) {
            out.append(ValidationDiagnostic(top, .warning, warning))
        }
        for (link, kind) in distributionsNeeded(topology) {
            do {
                _ = try ImpairmentQdisc.distributionTable(kind)
            } catch {
                out.append(ValidationDiagnostic(link.location, .error, "\(error)"))
            }
        }
        out += frrDiagnostics(topology)
        return out
    }

    /// FRR for the nodes that run it: installed, its /etc/frr/NODE free, the nodes' own
    /// configuration accepted by FRR's parser. The same checks deploy makes first.
    static func frrDiagnostics(_ topology: Topology) -> [ValidationDiagnostic] {
        let configs = FRRConfig.make(RoutedLab(topology))
        guard let first = configs.first, let node = topology.node(named: first.node) else { return [] }
        let place = topology.routing.isDynamic ? node.location : node.frr?.location ?? node.location
        do {
            try FRRNodes.checkInstalled(configs)
        } catch {
            return [ValidationDiagnostic(place, .error, "\(error)".replacingOccurrences(of: "cannot deploy: ", with: ""),
                                         hint: "apt-get install frr")]
        }
        var out: [ValidationDiagnostic] = []
        let recorded = LabRecord.exists(lab: topology.name) ? NodeEnvironmentRecord(lab: topology.name) : nil
        for problem in FRRNodes.collisions(configs, topology: topology, recorded: recorded) {
            out.append(ValidationDiagnostic(place, .error, problem, hint: "rename the node or set `prefix:`"))
        }
        do {
            try FRRNodes.checkOwnConfigurations(configs, topology: topology)
        } catch {
            out.append(ValidationDiagnostic(place, .error, "\(error)".replacingOccurrences(of: "cannot deploy: ", with: "")))
        }
        return out
    }

    static let ipv6Directory = "/proc/sys/net/ipv6"

    /// Where the file first gives an IPv6 address (a link) or route.
    static func firstIPv6Use(_ topology: Topology) -> SourceLocation? {
        let link = topology.links.first { link in
            link.endpoints.contains { end in
                end.addresses.contains { $0.family == .ipv6 } || end.subinterfaces.contains { $0.addresses.contains { $0.family == .ipv6 } }
            }
        }
        let route = topology.nodes.lazy.flatMap(\.routes).first { $0.destination.family == .ipv6 }
        return [link?.location, route?.location].compactMap { $0 }.min { ($0.line, $0.column) < ($1.line, $1.column) }
    }

    /// What the lab being validated already holds (when it is deployed): not "taken".
    struct OwnLab {
        /// Namespace name → the inode its record confirmed (nil: intended, never confirmed).
        var namespaces: [String: UInt64?]
        var directories: Set<String>

        func holds(namespace name: String) -> Bool {
            guard let recorded = namespaces[name], let inode = recorded else { return false }
            return NamedNamespaces.inode(of: name) == inode
        }
    }


    /// Each delay distribution table the lab's impairments use, with the first link using it.
    static func distributionsNeeded(_ topology: Topology) -> [(Link, DelayDistribution)] {
        var seen: [DelayDistribution: Link] = [:]
        var order: [DelayDistribution] = []
        for link in topology.links {
            for index in link.endpoints.indices {
                guard let kind = link.impairment(of: index)?.distribution, kind != .uniform, seen[kind] == nil else { continue }
                seen[kind] = link
                order.append(kind)
            }
        }
        return order.compactMap { kind in seen[kind].map { ($0, kind) } }
    }

    // MARK: - The kernel

    /// Where the lab first needs each kernel feature, and how many places need it.
    static func featuresNeeded(_ topology: Topology) -> [(feature: KernelFeature, location: SourceLocation, count: Int, impairment: Impairment?)] {
        var found: [KernelFeature: (SourceLocation, Int, Impairment?)] = [:]
        func need(_ feature: KernelFeature, _ location: SourceLocation, _ impairment: Impairment? = nil) {
            if let existing = found[feature] {
                found[feature] = (existing.0, existing.1 + 1, existing.2)
            } else {
                found[feature] = (location, 1, impairment)
            }
        }
        for node in topology.nodes where node.kind == .bridge {
            need(.bridge, node.location)
            if node.vlanFiltering { need(.vlanFiltering, node.location) }
        }
        for link in topology.links {
            need(.veth, link.location)
            for (index, end) in link.endpoints.enumerated() {
                if end.portVLANs != nil { need(.vlanFiltering, end.location) }
                for sub in end.subinterfaces { need(.vlan, sub.location) }
                if let impairment = link.impairment(of: index) {
                    need(impairment.needsNetem || impairment.rate == nil ? .netem : .tokenBucket,
                         end.impairment != nil ? end.location : link.location, impairment)
                }
            }
        }
        return KernelFeature.allCases.compactMap { feature in
            found[feature].map { (feature, $0.0, $0.1, $0.2) }
        }
    }

    static func kernelDiagnostics(_ topology: Topology,
                                  probe: (KernelFeature, Impairment?) -> KernelFeatures.Outcome) -> [ValidationDiagnostic] {
        var out: [ValidationDiagnostic] = []
        for need in featuresNeeded(topology) {
            let elsewhere = need.count > 1 ? " (here and \(need.count - 1) more place\(need.count == 2 ? "" : "s") in the file)" : ""
            switch probe(need.feature, need.impairment) {
            case .available:
                continue
            case .missing(let reason):
                out.append(ValidationDiagnostic(need.location, .error, "\(need.feature.what)\(elsewhere): \(reason)",
                                                hint: need.feature.hint))
            case .notChecked(let reason):
                out.append(ValidationDiagnostic(need.location, .warning, "\(need.feature.what)\(elsewhere) not checked: \(reason)"))
            }
        }
        return out
    }
}

/// What a lab may need of the kernel beyond namespaces and addresses.
enum KernelFeature: CaseIterable, Sendable {
    case veth, bridge, vlanFiltering, vlan, netem, tokenBucket

    var what: String {
        switch self {
        case .veth: "links are veth pairs"
        case .bridge: "a switch is a Linux bridge"
        case .vlanFiltering: "bridge ports in VLANs ('vlan', 'vlans') need VLAN filtering"
        case .vlan: "802.1Q sub-interfaces need the kernel's VLAN support"
        case .netem: "this impairment needs the netem qdisc"
        case .tokenBucket: "a rate limit needs the tbf qdisc"
        }
    }

    var hint: String {
        switch self {
        case .veth: "load the veth module (`modprobe veth`) or use a kernel with CONFIG_VETH"
        case .bridge: "load the bridge module (`modprobe bridge`) or use a kernel with CONFIG_BRIDGE"
        case .vlanFiltering, .vlan:
            "use a kernel with CONFIG_VLAN_8021Q and CONFIG_BRIDGE_VLAN_FILTERING (`modprobe 8021q`), e.g. Debian's; scripts/vm-test.sh runs labs on one"
        case .netem:
            "use a kernel with CONFIG_NET_SCH_NETEM (`modprobe sch_netem`), e.g. Debian's; a rate alone (rate: 10mbit) works through tbf"
        case .tokenBucket: "load sch_tbf (`modprobe sch_tbf`) or use a kernel with CONFIG_NET_SCH_TBF"
        }
    }
}

/// Asks the kernel itself: each feature is tried in a network namespace made for the purpose on
/// a thread of its own, which nothing else can see and which is gone when the thread ends. (The
/// kernel may load a module to answer, as it would for deploy.)
enum KernelFeatures {
    enum Outcome: Equatable {
        case available
        case missing(String)
        case notChecked(String)
    }

    /// The probe validate uses: one throwaway namespace per question.
    static func probe(_ feature: KernelFeature, _ impairment: Impairment?) -> Outcome {
        do {
            try Privileges.check(for: "try the kernel's features")
        } catch {
            return .notChecked("needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to try it in a throwaway namespace")
        }
        do {
            return try NamespaceThread.run { () throws -> Outcome in
                guard nslab_unshare(NSLAB_CLONE_NEWNET) == 0 else {
                    return .notChecked("could not make a throwaway namespace to try it in: \(String(cString: strerror(errno)))")
                }
                let socket = try NetlinkSocket()
                return try tryFeature(feature, impairment: impairment, on: socket)
            }
        } catch {
            return .notChecked("\(error)")
        }
    }

    static let vethIndex: Int32 = 10
    static let bridgeIndex: Int32 = 12
    static let vlanIndex: Int32 = 13

    /// The requests deploy would send, in an empty namespace: a refusal that means "not built
    /// into this kernel" is `missing`; anything else is reported as it is.
    static func tryFeature(_ feature: KernelFeature, impairment: Impairment?, on socket: NetlinkSocket) throws -> Outcome {
        let veth = LinkRequest.createVeth(VethEnd(name: "probe0", index: vethIndex), peer: VethEnd(name: "probe1", index: vethIndex + 1))
        var requests: [NetlinkMessage] = [veth]
        switch feature {
        case .veth:
            break
        case .bridge:
            requests = [LinkRequest.createBridge(name: "br0", index: bridgeIndex)]
        case .vlanFiltering:
            requests = [LinkRequest.createBridge(name: "br0", index: bridgeIndex, vlanFiltering: true)]
        case .vlan:
            requests.append(LinkRequest.createVLAN(name: "probe0.10", index: vlanIndex, parent: vethIndex, vlan: 10))
        case .netem, .tokenBucket:
            var tried = impairment ?? Impairment()
            if feature == .netem && !tried.needsNetem { tried.delay = 1_000_000 }
            if feature == .tokenBucket && tried.rate == nil { tried.rate = 10_000_000 }
            tried.distribution = nil  // the tables are checked apart; here only the qdisc
            requests.append(try ImpairmentQdisc.request(tried, index: vethIndex, name: "probe0"))
        }
        for (step, request) in requests.enumerated() {
            do {
                try socket.execute(request)
            } catch let error as NetlinkError {
                if step == 0, requests.count > 1 {
                    return .notChecked("the veth pair to try it on was refused: \(error)")
                }
                if unsupported(error) { return .missing("this kernel does not have it (it answered: \(error))") }
                return .missing("the kernel refused it: \(error)")
            }
        }
        return .available
    }

    /// The kernel's ways of saying "not built in": an unknown link or qdisc kind, or a feature
    /// compiled out.
    static func unsupported(_ error: NetlinkError) -> Bool {
        let text = error.kernelMessage ?? ""
        return error.code == EOPNOTSUPP || error.code == ENOENT || text.contains("Unknown device type")
            || text.contains("kind is unknown")
    }
}
