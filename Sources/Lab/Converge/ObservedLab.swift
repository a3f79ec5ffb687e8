import CShims
import Foundation
import NetAddress
import Netlink
import Namespaces
import Topology

/// A lab as it is now: what the kernel holds in each of its namespaces, the per-node files on
/// disk and the processes nslab started, as typed values (prefixes, addresses, interface names
/// resolved). `diff` and converging compare it with a LabPlan.
public struct ObservedLab: Sendable {
    public var lab: String
    /// In record order: every namespace the record lists.
    public var nodes: [ObservedNode]

    public func node(_ name: String) -> ObservedNode? { nodes.first { $0.name == name } }

    /// Nothing deployed: what a plan is compared with before the first deploy.
    public static func empty(lab: String) -> ObservedLab { ObservedLab(lab: lab, nodes: []) }

    /// Reads every namespace the lab's record (its journal's `entries`) lists.
    static func read(lab: String, entries: [RecordEntry]) throws -> ObservedLab {
        let summary = RecordSummary(lab: lab, entries: entries)
        let environment = NodeEnvironmentRecord(entries: entries)
        let kernel: [ObservedKernelState?] = try NamespaceThread.forEach(summary.namespaces, threads: 2) { entry in
            guard let recorded = summary.inodes[entry.name],
                  let namespace = try? NetworkNamespace.open(entry.name), namespace.inode == recorded else { return nil }
            return try namespace.run { try ObservedKernelState.read(from: NetlinkSocket()) }
        }
        var nodes: [ObservedNode] = []
        let directories = Dictionary(environment.directories.filter { $0.inode != nil }.map { ($0.path, $0) },
                                     uniquingKeysWith: { _, last in last })
        var cache = FileCache()
        for (entry, state) in zip(summary.namespaces, kernel) {
            let recordedDirectory = directories[NodeFiles.directory(of: entry.name)]
            nodes.append(ObservedNode(
                name: entry.node, namespace: entry.name, inode: summary.inodes[entry.name], kernel: state,
                files: recordedDirectory.map { readFiles(in: $0, cache: &cache) } ?? [:],
                processes: environment.processes.filter { $0.node == entry.node && $0.origin == "topology" }))
        }
        var observed = ObservedLab(lab: lab, nodes: nodes)
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
                         files: readFiles(in: NodeFiles.directory(of: name), cache: &cache), processes: [])
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

    private static func readFiles(in path: String, cache: inout FileCache) -> [String: String] {
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
            for link in node.kernel?.links ?? [] where link.kind == "veth" {
                byPair["\(link.index)>\(link.peerIndex ?? 0)", default: []].append(InterfaceRef(node: node.name, interface: link.name))
            }
        }
        var namespaceIDs = NamespaceIDs(nodes: nodes)
        for n in nodes.indices {
            guard let kernel = nodes[n].kernel else { continue }
            for link in kernel.links where link.kind == "veth" {
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
    /// The node's files under /etc/netns/NAMESPACE, by name.
    public var files: [String: String]
    /// The processes the node's `commands:` started, running or not.
    public var processes: [RecordedProcess]
    /// Veth ends whose peer is in the lab: interface name → the peer.
    public var peers: [String: InterfaceRef] = [:]

    public var present: Bool { kernel != nil }
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

    static func read(from socket: NetlinkSocket) throws -> ObservedKernelState {
        let links = try socket.links()
        return ObservedKernelState(
            links: links, addresses: try socket.addresses(), routes: try socket.routes(), qdiscs: try socket.rootQdiscs(),
            bridgePorts: links.contains { $0.kind == "bridge" } ? try socket.bridgePorts() : [],
            neighbours: try socket.neighbours(),
            forwardingIPv4: try socket.forwarding(family: AF_INET), forwardingIPv6: try socket.forwarding(family: AF_INET6))
    }

    public func link(named name: String) -> LinkInfo? { links.first { $0.name == name } }

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
