import Foundation
import Synchronization
import NetAddress
import Netlink
import Namespaces
import Routing
import Topology

/// What a deploy did.
public struct DeployResult: Sendable {
    public var lab: String
    public var nodes: Int
    public var links: Int
    public var addresses: Int
    public var routes: Int
    public var seconds: Double
    /// True when the lab was already deployed and matched the file: nothing was changed.
    public var unchanged: Bool
    /// For a lab that was already deployed: what converging it to the file changed.
    public var converged: ConvergeResult?
}

/// The alias the loopback of every namespace nslab creates carries, so its owner is visible to
/// `ip -n NAMESPACE -d link show lo` and checkable by nslab itself: "nslab:LAB/NODE".
public func ownershipAlias(lab: String, node: String) -> String { "nslab:\(lab)/\(node)" }

/// A node being deployed: its namespace (name and inode, no open file: each step opens it again,
/// see NodeNamespace) and its interfaces' indexes.
final class DeployedNode: @unchecked Sendable {
    let node: Node
    let namespace: NodeNamespace
    /// The lowest index no interface in the namespace has yet (2 in a new one: lo is 1).
    let firstFreeIndex: Int32
    var interfaceIndexes: [String: Int32] = [:]

    init(node: Node, namespace: NodeNamespace, firstFreeIndex: Int32) {
        self.node = node; self.namespace = namespace; self.firstFreeIndex = firstFreeIndex
    }
}

/// Hands out interface indexes that are unique across the whole lab, not just per namespace.
/// The kernel treats a link event as urgent only when a device's index differs from its
/// peer's (linkwatch_urgent_event); two veth ends with the same index in their two namespaces
/// get their carrier reported up to a second late, so `ip link` right after deploy would show
/// NO-CARRIER on a working link.
struct LabIndexes {
    private var next: Int32

    init(nodes: some Sequence<DeployedNode>) {
        next = nodes.map(\.firstFreeIndex).max() ?? 2
    }

    mutating func assign(to interface: String, on node: DeployedNode) -> Int32 {
        let index = next
        next += 1
        node.interfaceIndexes[interface] = index
        return index
    }
}

public enum LabDeployer {
    /// Namespaces are created on this many threads: unshare + mount is the slow part and the
    /// kernel does it in parallel.
    /// Every namespace's loopback is its first interface, and a namespace nslab has just made
    /// has no other: the lab's own interfaces are numbered from 2.
    static let loopbackIndex: Int32 = 1
    static let firstIndexInNewNamespace: Int32 = 2
    /// A bridge node's switch: one per bridge namespace, at an index the lab-wide counter for
    /// veth ends never reaches.
    static let bridgeName = "br0"
    static let bridgeIndex: Int32 = 1 << 30

    static let creationThreads = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))

    /// Creates the lab, or, when it is deployed already (or a deploy of it was cut short),
    /// converges it to the topology: only what differs changes.
    public static func deploy(_ topology: Topology, sourceText: String, options: ConvergeOptions = ConvergeOptions(),
                              progress: (ProgressStep) -> Void = { _ in }) throws -> DeployResult {
        let start = Date()
        try Privileges.check(for: "deploy a lab")
        let hash = contentHash(sourceText)
        let createdRecord = !LabRecord.exists(lab: topology.name)
        let record = try LabRecord(lab: topology.name, create: true)
        let summary = try record.summary()
        let frr = FRRConfig.make(RoutedLab(topology))
        if summary.startedAt != nil {
            try checkCollisions(topology, frr: frr, deployed: summary)
            let converged = try LabConverger.converge(topology, sourceText: sourceText, record: record, options: options,
                                                      progress: progress)
            return DeployResult(lab: topology.name, nodes: topology.nodes.count, links: topology.links.count,
                                addresses: 0, routes: 0, seconds: Date().timeIntervalSince(start),
                                unchanged: converged.difference.isEmpty, converged: converged)
        }
        do {
            try ResourceLimits.requireOpenFiles(ResourceLimits.deployFiles, for: "deploying \(counted(topology.nodes.count, "node"))")
            try checkCollisions(topology, frr: frr)
            try FRRNodes.checkOwnConfigurations(frr, topology: topology)
        } catch {
            if createdRecord { record.remove() }
            throw error
        }

        // Intents first: from here on a crash leaves a record that destroy can work from.
        var intents = [RecordEntry(event: .lab, lab: topology.name, file: absolutePath(topology.file), hash: hash,
                                   prefix: topology.prefix, time: Date().timeIntervalSince1970)]
        intents += topology.nodes.map {
            RecordEntry(event: .namespace, name: topology.namespaceName(of: $0.name), node: $0.name)
        }
        intents.append(RecordEntry(event: .links, interfaces: topology.links.flatMap { $0.endpoints.map(\.id) }))
        try record.saveTopology(sourceText)
        try record.append(intents)

        do {
            progress("creating \(counted(topology.nodes.count, "namespace"))")
            try NodeEnvironment.prepareHostNames(topology, record: record)
            // The /etc files wait on the disk and the namespaces and links on the kernel, so the
            // files are written beside them, on a thread of their own (1,000 nodes: 0.3-0.5 s
            // that no longer adds up). Both finish, failed or not, before anything is rolled back.
            let stages = try NamespaceThread.forEach([DeployStage.network, .files], threads: 2) { stage in
                switch stage {
                case .network:
                    return try buildNetwork(topology, record: record, progress: progress)
                case .files:
                    try NodeFiles.write(topology, record: record)
                    return nil
                }
            }
            guard case let network?? = stages.first else { preconditionFailure("the network stage returns its nodes") }
            try Interruption.check()
            // FRR's nodes opened for their daemons' start (a lab runs FRR on its routers only).
            try FRRNodes.write(frr, topology: topology, record: record)
            let routers = Set(frr.map(\.node))
            let frrNodes = try network.nodes.filter { routers.contains($0.node.name) }.map { ($0.node, try $0.namespace.open()) }
            try FRRNodes.start(frr, topology: topology, record: record, nodes: frrNodes, progress: progress)
            try NodeEnvironment.startCommands(topology, record: record, nodes: network.nodes, progress: progress)
            // Links' `flap:` schedules, in the background (LinkFlap.swift).
            try LinkFlap.startDeclared(topology, record: record, nodes: network.nodes)
            try record.append([RecordEntry(event: .deployed, hash: hash, time: Date().timeIntervalSince1970)])
            return DeployResult(lab: topology.name, nodes: network.nodes.count, links: topology.links.count,
                                addresses: network.addresses, routes: network.routes, seconds: Date().timeIntervalSince(start),
                                unchanged: false)
        } catch {
            // All or nothing: remove what this deploy made, then the record.
            rollBack(record: record)
            throw error
        }
    }

    private enum DeployStage { case network, files }

    private struct BuiltNetwork {
        var nodes: [DeployedNode]
        var addresses: Int
        var routes: Int
    }

    /// Namespaces, links, addresses, declared link states and impairments, routes: in that order,
    /// each stage once the one before is complete everywhere.
    private static func buildNetwork(_ topology: Topology, record: LabRecord,
                                     progress: (ProgressStep) -> Void) throws -> BuiltNetwork? {
        let created = try createNamespaces(topology, record: record, progress: progress)
        let byName = Dictionary(uniqueKeysWithValues: created.map { ($0.node.name, $0) })
        try Interruption.check()
        progress("creating \(counted(topology.links.count, "link"))")
        let neighbours = StaticNeighbours(topology)
        try createLinks(topology, nodes: byName, neighbours: neighbours)
        try Interruption.check()
        progress("configuring interfaces and addresses")
        let addresses = try configureInterfaces(topology, nodes: created, neighbours: neighbours)
        // Declared `impair:` (LinkControl.swift).
        try LinkControl.applyDeclaredImpairments(topology, nodes: created)
        try Interruption.check()
        progress("adding routes")
        let routes = try addRoutes(created)
        try LinkControl.applyDeclaredDown(topology, nodes: created)
        return BuiltNetwork(nodes: created, addresses: addresses, routes: routes)
    }

    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") || path == "-" ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Names the lab would take that someone else holds. Nothing is changed before this passes.
    /// For a lab being converged (`deployed`), only the names of nodes it does not have yet.
    static func checkCollisions(_ topology: Topology, frr: [FRRNodeConfig], deployed: RecordSummary? = nil) throws {
        var problems: [String] = []
        let claimed = otherLabsNamespaces(except: topology.name)
        let own = Set(deployed?.namespaces.map(\.name) ?? [])
        var fresh = topology
        fresh.nodes = topology.nodes.filter { !own.contains(topology.namespaceName(of: $0.name)) }
        for node in fresh.nodes {
            let name = topology.namespaceName(of: node.name)
            do {
                try NamedNamespaces.validate(name)
            } catch {
                problems.append("node \(node.name): \(error)")
                continue
            }
            if let lab = claimed[name] {
                problems.append("namespace \"\(name)\" (node \(node.name)) belongs to lab \"\(lab)\"")
            } else if NamedNamespaces.exists(name) {
                problems.append("namespace \"\(name)\" (node \(node.name)) already exists: \(NamedNamespaces.path(of: name))")
            }
        }
        problems += try NodeEnvironment.collisions(topology, checkingDirectoriesOf: fresh.nodes)
        try FRRNodes.checkInstalled(frr)
        problems += FRRNodes.collisions(frr, topology: topology,
                                        recorded: deployed == nil ? nil : NodeEnvironmentRecord(lab: topology.name))
        if !problems.isEmpty { throw LabError.collision(problems) }
    }

    static func otherLabsNamespaces(except lab: String) -> [String: String] {
        var claimed: [String: String] = [:]
        for other in LabRecord.labs() where other != lab {
            guard let summary = try? LabRecord.read(lab: other).summary else { continue }
            for entry in summary.namespaces { claimed[entry.name] = other }
        }
        return claimed
    }

    /// Each namespace is confirmed in the record (with its inode) the moment it exists, so that a
    /// rollback or a later destroy removes exactly the namespaces this deploy made.
    static func createNamespaces(_ topology: Topology, only subset: [Node]? = nil, record: LabRecord,
                                 progress: (ProgressStep) -> Void = { _ in }) throws -> [DeployedNode] {
        let nodes = subset ?? topology.nodes
        let total = nodes.count
        let created = Mutex(0)
        let sysctls = NewNamespaceSysctls()
        let instantIPv6 = needsIPv6AtOnce(topology)
        let ttl = topology.ttlToWrite()
        do {
            let mountPoints = try NamedNamespaces.reserve(nodes.map { topology.namespaceName(of: $0.name) })
            do {
                return try NamespaceThread.forEach(nodes, threads: creationThreads) { node in
                    defer {
                        let done = created.withLock { count in
                            count += 1
                            return count
                        }
                        if done % 50 == 0 || done == total { progress(.count(stage: "creating \(counted(total, "namespace"))", done: done, total: total)) }
                    }
                    try Interruption.check()
                    return try createNode(node, topology: topology, record: record, sysctls: sysctls, instantIPv6: instantIPv6,
                                          ttl: ttl)
                }
            } catch {
                // A rollback removes only confirmed namespaces: the files none was mounted on
                // are this function's to remove.
                mountPoints.removeUnmounted()
                throw error
            }
        } catch let error as NamespaceError {
            throw LabError.namespace(error)
        } catch let error as NetlinkError {
            throw LabError.kernel(error, node: nil)
        } catch let error as SystemCallError {
            throw LabError.system(error, context: "creating namespaces")
        }
    }

    /// Link-local IPv6 addresses usable the moment deploy returns: duplicate address detection
    /// off in every node (their global addresses are added with `nodad` anyway). Only for labs
    /// that speak IPv6, or run commands (a daemon may use link-local addresses, as BGP unnumbered
    /// does): with DAD off the kernel finishes every link-local address at once, during the
    /// deploy, which cost a 1,000-leaf IPv4 star 0.3 s; with it on, that work comes a second later
    /// and IPv4 never waits for it.
    static func needsIPv6AtOnce(_ topology: Topology) -> Bool {
        topology.hasIPv6 || topology.nodes.contains { !$0.commands.isEmpty }
    }

    /// One node's network namespace (on its reserved file), its sysctls and host name, confirmed
    /// in the record. Nothing of it stays open: the namespace is known by name and inode.
    private static func createNode(_ node: Node, topology: Topology, record: LabRecord,
                                   sysctls: NewNamespaceSysctls, instantIPv6: Bool, ttl: Int?) throws -> DeployedNode {
        let (namespace, hostName) = try NetworkNamespace.create(topology.namespaceName(of: node.name), reserved: true) {
            // Inside the new namespace, on its creating thread, which exits afterwards:
            // the node's UTS namespace is made here too, saving a thread per node.
            try Sysctl.setForwarding(node.kind.forwards, reading: try NetlinkSocket())
            if instantIPv6 { try Sysctl.disableDuplicateAddressDetection(startingFrom: sysctls) }
            // Before any interface but lo exists: the others take IPv6's from 'default'.
            if let ttl { try Sysctl.setDefaultTTL(ttl, interfaces: []) }
            // Nothing else here: this runs serialised behind the kernel's namespace
            // setup, so loopback is brought up later with the node's other interfaces.
            return try NodeEnvironment.createHostName(lab: topology.name, node: node.name)
        }
        try record.append([RecordEntry(event: .namespaceCreated, name: namespace.name, node: node.name,
                                        inode: namespace.inode), hostName])
        return DeployedNode(node: node, namespace: NodeNamespace(name: namespace.name, inode: namespace.inode),
                            firstFreeIndex: firstIndexInNewNamespace)
    }

    /// One transmit and one receive queue per veth end, not the kernel's one per CPU: each queue
    /// is a sysfs directory the kernel builds and tears down, and a lab's links carry one
    /// flow or a few (creating 1,000 pairs: 0.41-0.53 s with two queues here, 0.29 s with one;
    /// on a machine with more CPUs the default costs more).
    static let vethQueues: UInt32 = 1

    /// Namespaces open at once while links are created: the fds IFLA_NET_NS_FD names must be
    /// open while the kernel reads the request, so links go in batches whose ends lie in at most
    /// this many namespaces (a star's hub is opened again for each batch of 63 leaves).
    static let namespacesPerLinkBatch = 64

    /// Every veth pair created with both ends directly in their namespaces, each with the index
    /// nslab chose, so nothing has to be looked up or moved afterwards. Pipelined batches, from a
    /// socket in this process's own namespace (where the request is sent does not matter: both
    /// ends are placed by their namespace fds).
    static func createLinks(_ topology: Topology, nodes: [String: DeployedNode], neighbours: StaticNeighbours?) throws {
        var indexes = LabIndexes(nodes: nodes.values)
        var batch = LinkBatch()
        do {
            let socket = try NetlinkSocket()
            for link in topology.links {
                if let tunnel = link.tunnel, link.endpoints.count == 1, let node = nodes[link.endpoints[0].node] {
                    // The machine's own socket: the tunnel's UDP socket lives where it is sent from.
                    if !batch.hasRoom(for: [node.namespace]) { try batch.send(on: socket) }
                    let end = link.endpoints[0]
                    batch.requests.append(LinkKind.tunnelRequest(
                        tunnel, name: end.interface, namespaceFD: try batch.open(node.namespace).fd,
                        index: indexes.assign(to: end.interface, on: node), mtu: end.mtu, mac: neighbours?.mac(of: end) ?? end.mac))
                    continue
                }
                guard link.endpoints.count == 2, let a = nodes[link.endpoints[0].node],
                      let b = nodes[link.endpoints[1].node] else { continue }
                if !batch.hasRoom(for: [a.namespace, b.namespace]) { try batch.send(on: socket) }
                let ea = link.endpoints[0], eb = link.endpoints[1]
                let request = LinkRequest.createVeth(
                    VethEnd(name: ea.interface, namespaceFD: try batch.open(a.namespace).fd,
                            index: indexes.assign(to: ea.interface, on: a),
                            mtu: ea.mtu, mac: neighbours?.mac(of: ea) ?? ea.mac, queues: vethQueues),
                    peer: VethEnd(name: eb.interface, namespaceFD: try batch.open(b.namespace).fd,
                                  index: indexes.assign(to: eb.interface, on: b),
                                  mtu: eb.mtu, mac: neighbours?.mac(of: eb) ?? eb.mac, queues: vethQueues),
                    up: true)
                batch.requests.append(request)
            }
            try batch.send(on: socket)
        } catch let error as NetlinkError {
            throw LabError.kernel(error, node: nil)
        } catch let error as NamespaceError {
            throw LabError.namespace(error)
        }
        // 802.1Q sub-interfaces are made by their node's own batch, on their parent; their
        // indexes come from the same lab-wide counter.
        for endpoint in topology.links.flatMap(\.endpoints) {
            guard let node = nodes[endpoint.node] else { continue }
            for sub in endpoint.subinterfaces { _ = indexes.assign(to: sub.name, on: node) }
        }
    }

    /// Veth requests waiting to be sent, and the namespaces they name, open until they are sent.
    private struct LinkBatch {
        var requests: [NetlinkMessage] = []
        private var opened: [NodeNamespace: NetworkNamespace] = [:]

        func hasRoom(for namespaces: [NodeNamespace]) -> Bool {
            opened.count + namespaces.filter { opened[$0] == nil }.count <= namespacesPerLinkBatch
        }

        mutating func open(_ namespace: NodeNamespace) throws -> NetworkNamespace {
            if let known = opened[namespace] { return known }
            let made = try namespace.open()
            opened[namespace] = made
            return made
        }

        /// Sends the requests and closes the namespaces.
        mutating func send(on socket: NetlinkSocket) throws {
            if !requests.isEmpty { try socket.execute(requests) }
            requests = []
            opened = [:]
        }
    }

    /// Alias and up on every interface, then its addresses: one batch per node, on its socket.
    static func configureInterfaces(_ topology: Topology, nodes: [DeployedNode], neighbours: StaticNeighbours?) throws -> Int {
        let endpointsByNode = Dictionary(grouping: topology.links.flatMap(\.endpoints), by: \.node)
        let counts = try eachNode(nodes) { deployed, socket in
            var count = 0
            // The tag goes on loopback only: every namespace has one, it stays when the veths are
            // gone (so `nslab doctor` can still tell whose namespace it was), and the interfaces
            // in a namespace are its owner's. An alias costs the kernel a state-change event:
            // on every veth of a 1,000-leaf star that was 0.15 s of deploy.
            let alias = ownershipAlias(lab: topology.name, node: deployed.node.name)
            var requests = [LinkRequest.set(index: loopbackIndex, name: "lo", up: true, alias: alias)]
            let node = deployed.node
            let bridge: Int32? = node.kind == .bridge ? bridgeIndex : nil
            if let bridge {
                requests.append(LinkRequest.createBridge(name: bridgeName, index: bridge, stp: node.stp, vlanFiltering: node.vlanFiltering))
            }
            for endpoint in endpointsByNode[node.name] ?? [] {
                guard let index = deployed.interfaceIndexes[endpoint.interface] else { continue }
                requests.append(LinkRequest.set(index: index, name: endpoint.interface, up: true, master: bridge))
                for address in endpoint.addresses {
                    requests.append(AddressRequest.add(address, index: UInt32(index), interface: endpoint.interface))
                    count += 1
                }
                requests += neighbours?.requests(for: endpoint, index: index) ?? []
                requests += vlanRequests(for: endpoint, index: index, on: deployed)
                count += endpoint.subinterfaces.reduce(0) { $0 + $1.addresses.count }
            }
            do {
                try socket.execute(requests)
            } catch let error as NetlinkError {
                throw vlanRefusal(error) ?? error
            }
            return count
        }
        return counts.reduce(0, +)
    }

    /// Runs one batch per node, on as many threads as creating namespaces uses, each on a socket
    /// opened inside the node for the batch and closed after it (so a thread holds one node's
    /// files at a time): batches of different nodes proceed in parallel in the kernel.
    static func eachNode<T>(_ nodes: [DeployedNode], _ batch: (DeployedNode, NetlinkSocket) throws -> T) throws -> [T] {
        try NamespaceThread.forEach(nodes, threads: creationThreads) { deployed in
            try Interruption.check()
            do {
                return try batch(deployed, try deployed.namespace.enterWithSocket())
            } catch let error as NetlinkError {
                throw LabError.kernel(error, node: deployed.node.name)
            } catch let error as NamespaceError {
                throw LabError.namespace(error)
            }
        }
    }

    /// Routes go last, once every address of every node exists, so each gateway is already on a
    /// connected subnet when its route is added.
    static func addRoutes(_ nodes: [DeployedNode]) throws -> Int {
        let counts = try eachNode(nodes.filter { !$0.node.routes.isEmpty }) { deployed, socket in
            let requests = deployed.node.routes.map { PlannedRoute($0).request(indexes: deployed.interfaceIndexes) }
            try socket.execute(requests)
            return requests.count
        }
        return counts.reduce(0, +)
    }

    static func rollBack(record: LabRecord) {
        _ = try? LabDestroyer.destroy(record: record, unconfirmed: .keep)
    }
}
