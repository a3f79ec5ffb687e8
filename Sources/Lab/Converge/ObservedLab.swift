import CShims
import Foundation
import NetAddress
import Netlink
import Namespaces
import Routing
import Topology

/// A lab as it is now: what the kernel holds in each of its namespaces, the per-node files on
/// disk and the processes nslab started, as typed values (prefixes, addresses, interface names
/// resolved). `diff` and converging compare it with a LabPlan; inspect (rendered as LabState),
/// verify, explain, ping, trace, `nslab link` and the server read the lab through it.
public struct ObservedLab: Sendable {
    public var lab: String
    /// In record order: every namespace the record lists.
    public var nodes: [ObservedNode]
    /// The topology file the lab was deployed from, as the record has it.
    public var file: String? = nil
    /// Seconds since 1970.
    public var deployedAt: Double? = nil
    /// False while a deploy is running or after one died half-way.
    public var complete = true

    public init(lab: String, nodes: [ObservedNode]) { self.lab = lab; self.nodes = nodes }

    public func node(_ name: String) -> ObservedNode? { nodes.first { $0.name == name } }

    /// Nothing deployed: what a plan is compared with before the first deploy.
    public static func empty(lab: String) -> ObservedLab { ObservedLab(lab: lab, nodes: []) }

    /// Reads every namespace the lab's record (its journal's `entries`) lists, for converging:
    /// with the contents of the nodes' /etc files, and refusing a kernel dump that kept changing
    /// while it was read (converging acts on what it reads).
    static func read(lab: String, entries: [RecordEntry]) throws -> ObservedLab {
        try read(RecordSummary(lab: lab, entries: entries), environment: NodeEnvironmentRecord(entries: entries),
                 fileContents: true, acceptingInterruptedDumps: false)
    }

    /// A deployed lab as inspect, verify, explain, ping, trace, `nslab link`, graph and the
    /// server read it: every node the record lists (or those named in `only`: peers are then
    /// found among those alone), the names of their /etc files but not their contents, a dump
    /// interrupted by changes taken as it came (a lab just deployed can keep one changing for
    /// seconds). The topology is the copy the record keeps; nil when it no longer reads.
    public static func read(deployed lab: String, only: Set<String>? = nil) throws -> (lab: ObservedLab, topology: Topology?) {
        var (summary, text) = try LabRecord.read(lab: lab)
        if let only { summary.namespaces = summary.namespaces.filter { only.contains($0.node) } }
        try Privileges.check(for: "read a lab's namespaces")
        let topology = text.flatMap { try? Topology.parse(yaml: $0, file: summary.file ?? "topology.yaml") }
        var observed = try read(summary, environment: NodeEnvironmentRecord(lab: lab), fileContents: false,
                                acceptingInterruptedDumps: true)
        if let topology {
            let kinds = Dictionary(topology.nodes.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
            for n in observed.nodes.indices { observed.nodes[n].kind = kinds[observed.nodes[n].name] }
        }
        return (observed, topology)
    }

    /// The one reader of a recorded lab: each namespace on a worker thread (entered there; the
    /// thread ends with the read), the record's files, processes and FRR.
    private static func read(_ summary: RecordSummary, environment: NodeEnvironmentRecord, fileContents: Bool,
                             acceptingInterruptedDumps: Bool) throws -> ObservedLab {
        let kernel: [ObservedKernelState?] = try NamespaceThread.forEach(summary.namespaces, threads: 2) { entry in
            guard let recorded = summary.inodes[entry.name] else { return nil }
            let namespace: NetworkNamespace
            do {
                namespace = try NetworkNamespace.open(entry.name)
            } catch let error as NamespaceError {
                // Gone (or never made) is a node not present; failing to open one that is there,
                // out of open files (EMFILE), is an error: read as gone, every node looked removed.
                if case .system = error { throw LabError.namespace(error) }
                return nil
            }
            guard namespace.inode == recorded else { return nil }
            return try namespace.run {
                try ObservedKernelState.read(from: NetlinkSocket(acceptingInterruptedDumps: acceptingInterruptedDumps))
            }
        }
        var nodes: [ObservedNode] = []
        let directories = Dictionary(environment.directories.filter { $0.inode != nil }.map { ($0.path, $0) },
                                     uniquingKeysWith: { _, last in last })
        let processes = Dictionary(grouping: environment.processes, by: \.node)
        // A node's first UTS namespace on record, as NodeEnvironmentRecord.uts(of:) finds it.
        let utsNamespaces = Dictionary(environment.utsNamespaces.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        var cache = FileCache()
        for (entry, state) in zip(summary.namespaces, kernel) {
            let recordedDirectory = directories[NodeFiles.directory(of: entry.name)]
            let own = processes[entry.node] ?? []
            var node = ObservedNode(
                name: entry.node, namespace: entry.name, inode: summary.inodes[entry.name], kernel: state,
                files: fileContents ? recordedDirectory.map { readFiles(in: $0, cache: &cache) } ?? [:] : [:],
                recordedProcesses: own)
            node.frr = ObservedFRR.read(namespace: entry.name, recorded: environment.frrDirectories.filter { $0.node == entry.node },
                                        daemons: own.filter { $0.origin == "frr" }, cache: &cache)
            node.fileNames = recordedDirectory?.files ?? []
            node.hasOwnHostName = utsNamespaces[entry.node]?.inode != nil
            node.stopped = summary.stoppedNodes.contains(entry.node)
            nodes.append(node)
        }
        var observed = ObservedLab(lab: summary.lab, nodes: nodes)
        observed.file = summary.file
        observed.deployedAt = summary.deployedAt
        observed.complete = summary.isComplete
        observed.resolvePeers()
        return observed
    }

    /// Namespaces nobody recorded (made by hand, to be adopted), read as they are: each node is
    /// named after its namespace, and its files are every regular file of /etc/netns/NAMESPACE.
    static func read(unrecorded names: [String]) throws -> ObservedLab {
        let kernel: [(inode: UInt64, state: ObservedKernelState)] = try NamespaceThread.forEach(names, threads: 2) { name in
            let namespace = try NetworkNamespace.open(name)
            return (namespace.inode, try namespace.run { try ObservedKernelState.read(from: NetlinkSocket()) })
        }
        var cache = FileCache()
        let nodes = zip(names, kernel).map { name, read in
            ObservedNode(name: name, namespace: name, inode: read.inode, kernel: read.state,
                         files: readFiles(in: NodeFiles.directory(of: name), cache: &cache))
        }
        var observed = ObservedLab(lab: "", nodes: nodes)
        observed.resolvePeers()
        return observed
    }

    /// The files of a node's /etc directory that the record says nslab wrote, plus any other
    /// regular file there (someone's by hand: reported as foreign).
    private static func readFiles(in directory: NodeEnvironmentRecord.Directory, cache: inout FileCache) -> [String: String] {
        readFiles(in: directory.path, cache: &cache)
    }

    static func readFiles(in path: String, cache: inout FileCache) -> [String: String] {
        var files: [String: String] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where !name.hasPrefix(".") {
            if let content = cache.content(of: "\(path)/\(name)") { files[name] = content }
        }
        return files
    }

    /// Files read once per inode: deploy and converge hard-link the files many nodes share.
    struct FileCache {
        private var byInode: [UInt64: String] = [:]

        mutating func content(of path: String) -> String? {
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            let inode = UInt64(info.st_ino)
            if info.st_nlink > 1, let known = byInode[inode] { return known }
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            let content = String(decoding: data, as: UTF8.self)
            if info.st_nlink > 1 { byInode[inode] = content }
            return content
        }
    }

    /// Each veth end's peer as `node:interface`. A veth reports its peer's index; indexes are
    /// unique across a lab that nslab built (deploy and converge hand them out so), and a pair is
    /// recognised by both ends pointing at each other. Namespaces made by hand may repeat
    /// indexes (each namespace numbers its own from 2): only then is each candidate's namespace
    /// checked against the id the veth gives its peer's namespace (IFLA_LINK_NETNSID).
    mutating func resolvePeers() {
        var byPair: [String: [InterfaceRef]] = [:]
        for node in nodes {
            for link in node.kernel?.links ?? [] where link.isVeth {
                byPair["\(link.index)>\(link.peerIndex ?? 0)", default: []].append(InterfaceRef(node: node.name, interface: link.name))
            }
        }
        var namespaceIDs = NamespaceIDs(nodes: nodes)
        for n in nodes.indices {
            guard let kernel = nodes[n].kernel else { continue }
            for link in kernel.links where link.isVeth {
                guard let peerIndex = link.peerIndex, let candidates = byPair["\(peerIndex)>\(link.index)"] else { continue }
                if candidates.count == 1 {
                    nodes[n].peers[link.name] = candidates[0]
                    continue
                }
                guard let id = link.peerNamespaceID else { continue }
                let matching = candidates.filter { namespaceIDs.id(of: $0.node, seenFrom: nodes[n].name) == id }
                if matching.count == 1 { nodes[n].peers[link.name] = matching[0] }
            }
        }
    }

    /// The ids namespaces give each other, asked for only when two veth pairs share indexes.
    private struct NamespaceIDs {
        let namespaces: [String: String]
        var sockets: [String: NetlinkSocket] = [:]
        var opened: [String: NetworkNamespace] = [:]
        var known: [String: Int32?] = [:]

        init(nodes: [ObservedNode]) {
            namespaces = Dictionary(nodes.map { ($0.name, $0.namespace) }, uniquingKeysWith: { first, _ in first })
        }

        mutating func id(of node: String, seenFrom viewer: String) -> Int32? {
            let key = "\(viewer)>\(node)"
            if let id = known[key] { return id }
            let id = try? socket(of: viewer)?.namespaceID(of: namespace(of: node)?.fd ?? -1)
            known[key] = id ?? nil
            return id ?? nil
        }

        private mutating func namespace(of node: String) -> NetworkNamespace? {
            if let open = opened[node] { return open }
            guard let name = namespaces[node], let namespace = try? NetworkNamespace.open(name) else { return nil }
            opened[node] = namespace
            return namespace
        }

        private mutating func socket(of node: String) throws -> NetlinkSocket? {
            if let socket = sockets[node] { return socket }
            guard let socket = try namespace(of: node)?.openSocket() else { return nil }
            sockets[node] = socket
            return socket
        }
    }

    /// The highest interface index in the lab: new interfaces get indexes above it, so that
    /// indexes stay unique lab-wide (see LabIndexes).
    var highestIndex: Int32 {
        nodes.compactMap { $0.kernel?.links.map(\.index).filter { $0 != LabDeployer.bridgeIndex }.max() }.max() ?? 1
    }
}

public struct ObservedNode: Sendable {
    public var name: String
    public var namespace: String
    /// The recorded inode of the namespace (nil: its creation was never confirmed).
    public var inode: UInt64?
    /// nil when the namespace is gone or is no longer the one nslab created.
    public var kernel: ObservedKernelState?
    /// The node's files under /etc/netns/NAMESPACE, by name (read for converging only).
    public var files: [String: String]
    /// The names of the files nslab wrote there, as recorded.
    public var fileNames: [String] = []
    /// Every process nslab started in the node (`commands:`, `exec -d`, flap schedules, FRR),
    /// running or not, in the order they were started.
    public var recordedProcesses: [RecordedProcess]
    /// Its FRR, when nslab made FRR directories for it and they are still there.
    public var frr: ObservedFRR? = nil
    /// Veth ends whose peer is in the lab: interface name → the peer.
    public var peers: [String: InterfaceRef] = [:]
    /// From the recorded topology (read(deployed:)); nil when it is not known.
    public var kind: NodeKind? = nil
    /// Stopped with `nslab node … stop`.
    public var stopped = false
    /// nslab gave it a host name of its own (a UTS namespace).
    public var hasOwnHostName = false

    public init(name: String, namespace: String, inode: UInt64? = nil, kernel: ObservedKernelState?,
                files: [String: String] = [:], recordedProcesses: [RecordedProcess] = []) {
        self.name = name; self.namespace = namespace; self.inode = inode; self.kernel = kernel; self.files = files
        self.recordedProcesses = recordedProcesses
    }

    public var present: Bool { kernel != nil }

    /// The processes the node's `commands:` started, running or not.
    public var processes: [RecordedProcess] { recordedProcesses.filter { $0.origin == "topology" } }

    /// The links' `flap:` schedules started in this node, running or ended.
    public var flaps: [RecordedProcess] { recordedProcesses.filter { $0.origin == "flap" } }

    public var isSwitch: Bool { kind == .bridge }
}

/// A node's FRR as found: the files of its /etc/frr/NAMESPACE, and which of its recorded
/// daemons run.
public struct ObservedFRR: Sendable {
    /// The files of /etc/frr/NAMESPACE, by name.
    public var files: [String: String]
    /// Its recorded daemons that run now.
    public var daemons: [RecordedProcess]

    /// The daemons' names ("zebra", "ospfd"): their programs' names, in FRR's start order.
    public var daemonNames: [String] {
        daemons.compactMap { $0.command.first.map { ($0 as NSString).lastPathComponent } }
            .sorted { (FRRDaemons.all.firstIndex(of: $0) ?? .max) < (FRRDaemons.all.firstIndex(of: $1) ?? .max) }
    }

    /// nil unless nslab made the node's configuration directory and it is still the one it made.
    static func read(namespace: String, recorded: [NodeEnvironmentRecord.FRRDirectory], daemons: [RecordedProcess],
                     cache: inout ObservedLab.FileCache) -> ObservedFRR? {
        let path = FRRPaths.configDirectory(namespace)
        guard let inode = recorded.first(where: { $0.path == path })?.inode, FRRNodes.inodeOf(path) == inode else { return nil }
        return ObservedFRR(files: ObservedLab.readFiles(in: path, cache: &cache), daemons: daemons.filter(NodeProcesses.isRunning))
    }

    /// What differs from `config`: its files by name, then the daemons that run
    /// ("running zebra staticd → zebra ospfd staticd"). Empty: nothing.
    func differences(from config: FRRNodeConfig) -> [String] {
        var parts = config.files.filter { files[$0.name] != $0.content }.map(\.name)
        let running = daemonNames
        if Set(running) != Set(config.daemons) {
            parts.append("running \(running.isEmpty ? "none" : running.joined(separator: " ")) → \(config.daemons.joined(separator: " "))")
        }
        return parts
    }

    /// As it was, to be started again so (a rollback): its files and the daemons that ran.
    func configuration(node: String) -> FRRNodeConfig {
        FRRNodeConfig(node: node, daemons: daemonNames, frrConf: files["frr.conf"] ?? "", vtyshConf: files["vtysh.conf"] ?? "",
                      daemonsFile: files["daemons"] ?? "")
    }
}

/// One namespace's network as the kernel reports it.
public struct ObservedKernelState: Sendable {
    public var links: [LinkInfo]
    public var addresses: [AddressInfo]
    /// The main table.
    public var routes: [RouteInfo]
    public var qdiscs: [QdiscInfo]
    public var bridgePorts: [BridgePort]
    public var neighbours: [NeighbourInfo]
    public var forwardingIPv4: Bool?
    public var forwardingIPv6: Bool?
    /// net.ipv4.ip_default_ttl (Sysctl.ipv4DefaultTTL). nil: not read, 64.
    public var ipv4DefaultTTL: Int?

    public init(links: [LinkInfo], addresses: [AddressInfo] = [], routes: [RouteInfo] = [], qdiscs: [QdiscInfo] = [],
                bridgePorts: [BridgePort] = [], neighbours: [NeighbourInfo] = [], forwardingIPv4: Bool? = nil,
                forwardingIPv6: Bool? = nil) {
        self.links = links; self.addresses = addresses; self.routes = routes; self.qdiscs = qdiscs
        self.bridgePorts = bridgePorts; self.neighbours = neighbours
        self.forwardingIPv4 = forwardingIPv4; self.forwardingIPv6 = forwardingIPv6
    }

    static func read(from socket: NetlinkSocket) throws -> ObservedKernelState {
        let links = try socket.links()
        var state = ObservedKernelState(
            links: links, addresses: try socket.addresses(), routes: try socket.routes(), qdiscs: try socket.rootQdiscs(),
            bridgePorts: links.contains(where: \.isBridge) ? try socket.bridgePorts() : [],
            neighbours: try socket.neighbours(),
            forwardingIPv4: try socket.forwarding(family: AF_INET), forwardingIPv6: try socket.forwarding(family: AF_INET6))
        state.ipv4DefaultTTL = try Sysctl.ipv4DefaultTTL()
        return state
    }

    /// What the node's kernel sends with in `family`: IPv4's default TTL; for IPv6 the hop
    /// limit of its first interface other than lo (a lab's interfaces are all made alike).
    public func ttl(_ family: IPAddress.Family) -> Int {
        switch family {
        case .ipv4: return ipv4DefaultTTL ?? PacketTTL.kernelDefault
        case .ipv6: return links.first { !$0.isLoopback && $0.ipv6HopLimit != nil }?.ipv6HopLimit.map(Int.init) ?? PacketTTL.kernelDefault
        }
    }

    /// Every TTL and hop limit the node sends with: IPv4's, then each interface's (lo aside:
    /// what it sends stays in the node).
    public var ttls: [Int] {
        [ttl(.ipv4)] + links.filter { !$0.isLoopback }.compactMap { $0.ipv6HopLimit.map(Int.init) }
    }

    /// A TTL or hop limit the node sends with other than `wanted`, if any.
    public func ttl(otherThan wanted: Int) -> Int? { ttls.first { $0 != wanted } }

    public func link(named name: String) -> LinkInfo? { links.first { $0.name == name } }

    /// Interface names by index, for reading many routes or neighbours at once.
    public var namesByIndex: [Int32: String] { Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a }) }

    /// Every interface's addresses, link-local ones included, IPv4 first, by interface index:
    /// grouped in one pass (a hub of 10,000 links holds 20,000 addresses).
    public var addressesByIndex: [Int32: [IPPrefix]] {
        var grouped: [Int32: [IPPrefix]] = [:]
        for address in addresses { grouped[Int32(bitPattern: address.index), default: []].append(address.prefix) }
        return grouped.mapValues { $0.sorted { ($0.family == .ipv4 ? 0 : 1, $0) < ($1.family == .ipv4 ? 0 : 1, $1) } }
    }

    /// Whether the bridge with index `master` filters by VLAN (only then do its ports' VLANs matter).
    public func filtersVLANs(master: Int32?) -> Bool {
        guard let master else { return false }
        return links.first { $0.index == master }?.vlanFiltering == true
    }

    public func name(ofIndex index: Int32) -> String? { links.first { $0.index == index }?.name }

    /// The addresses a topology can declare on an interface: not IPv6 link-local ones, which the
    /// kernel makes itself.
    public func declarableAddresses(of index: Int32) -> [IPPrefix] {
        addresses.filter { $0.index == UInt32(index) && !$0.prefix.address.isLinkLocalV6 }.map(\.prefix)
    }

    /// Routes someone added (nslab, `ip route add`): not the kernel's own connected and
    /// link-local routes, not multicast, not those of routing daemons.
    public var staticRoutes: [RouteInfo] {
        routes.filter { route in
            (route.protocolID == UInt8(RTPROT_BOOT) || route.protocolID == UInt8(RTPROT_STATIC))
                && !route.destination.address.isMulticast
        }
    }

    public func impairment(of index: Int32) -> Impairment? {
        qdiscs.first { $0.index == index }.flatMap(ImpairmentQdisc.impairment(of:))
    }

    public func portVLANs(of index: Int32) -> PortVLANState? {
        bridgePorts.first { $0.index == index }.map { PortVLANState($0.vlans) }
    }

    public func permanentNeighbours(of index: Int32) -> Set<PermanentNeighbour> {
        Set(neighbours.filter { $0.index == index && $0.state & UInt16(NUD_PERMANENT) != 0 }.compactMap { entry in
            entry.linkAddress.map { PermanentNeighbour(address: entry.destination, mac: $0) }
        })
    }
}
