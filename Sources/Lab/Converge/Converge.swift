import Foundation
import NetAddress
import Synchronization
import Netlink
import Namespaces
import Routing
import Topology
#if canImport(Glibc)
import Glibc
#endif

public struct ConvergeOptions: Sendable {
    /// Also remove what is in the lab's nodes that no version of its topology put there.
    public var prune = false
    /// Forget the link states `nslab link … down|up` recorded: the file's say.
    public var reset = false

    public init(prune: Bool = false, reset: Bool = false) { self.prune = prune; self.reset = reset }
}

/// What `deploy` did to a lab that was already deployed.
public struct ConvergeResult: Sendable {
    public var lab: String
    public var difference: LabDifference
    public var seconds: Double
}

/// Makes a deployed lab match its topology file with the fewest changes: what is untouched keeps
/// its namespace, interface indexes, MACs, neighbour entries and processes.
public enum LabConverger {
    /// The changes a deploy of `topology` would make now; nothing is changed. For a lab that is
    /// not deployed, the whole deploy.
    public static func difference(_ topology: Topology, options: ConvergeOptions = ConvergeOptions()) throws -> LabDifference {
        try Privileges.check(for: "read a lab's namespaces")
        guard LabRecord.exists(lab: topology.name) else {
            return LabDifference.compute(plan: LabPlan(topology), observed: .empty(lab: topology.name), previous: nil,
                                         prune: options.prune)
        }
        let record = try LabRecord(lab: topology.name, create: false)
        return try difference(topology, record: record, options: options).difference
    }

    /// `sourceText`: the text `topology` was read from, when known.
    static func difference(_ topology: Topology, record: LabRecord, options: ConvergeOptions, sourceText: String? = nil)
        throws -> (difference: LabDifference, observed: ObservedLab, plan: LabPlan) {
        let entries = try record.entries()
        let summary = RecordSummary(lab: record.lab, entries: entries)
        let given = LabPlan(topology)
        var plan = given
        if !options.reset {
            plan.keepLinkStates(summary.linkStates)
            plan.keepStopped(summary.stoppedNodes)
        }
        let observed = try ObservedLab.read(lab: record.lab, entries: entries)
        let recorded = try? String(contentsOfFile: record.topologyCopyPath, encoding: .utf8)
        // The file deployed last, again (the same text from the same place): its plan is the one
        // just made. Parsing the copy again was a converge's peak memory at 10,000 nodes (a
        // parse of 45 MiB on top of the plan and the observed lab).
        let previous: LabPlan?
        if let recorded, recorded == sourceText, summary.file == LabDeployer.absolutePath(topology.file) {
            previous = given
        } else {
            previous = recorded.flatMap { try? Topology.parse(yaml: $0, file: summary.file ?? record.topologyCopyPath) }
                .map(LabPlan.init)
        }
        let difference = LabDifference.compute(plan: plan, observed: observed, previous: previous, prune: options.prune)
        return (difference, observed, plan)
    }

    /// Converges the deployed lab `topology` names (the caller holds its record). On a failure or
    /// a signal half-way, what this run changed is undone, newest first.
    static func converge(_ topology: Topology, sourceText: String, record: LabRecord, options: ConvergeOptions,
                         progress: (ProgressStep) -> Void) throws -> ConvergeResult {
        let start = Date()
        let (difference, observed, plan) = try difference(topology, record: record, options: options, sourceText: sourceText)
        // FRR judges the configurations it is given before anything changes.
        let frr = difference.changes.compactMap { if case .startFRR(_, let config, _) = $0 { config } else { nil } }
        try FRRNodes.checkInstalled(frr)
        try FRRNodes.checkOwnConfigurations(frr, topology: topology)
        let run = ConvergeRun(topology: topology, plan: plan, observed: observed, record: record)
        defer { run.finish() }
        if !difference.isEmpty {
            progress("converging: \(counted(difference.changes.count, "change"))")
            do {
                try run.apply(difference.changes)
            } catch {
                let failures = run.rollBack()
                if failures.isEmpty { throw error }
                throw LabError.refused("\(error)\n  and the lab could not be put back entirely as it was:\n"
                                       + failures.map { "  - \($0)" }.joined(separator: "\n")
                                       + "\n  run `nslab deploy` again to converge it from where it is")
            }
        }
        try record.saveTopology(sourceText)
        try record.append([RecordEntry(event: .converged, file: LabDeployer.absolutePath(topology.file),
                                       hash: contentHash(sourceText), time: Date().timeIntervalSince1970,
                                       name: options.reset ? "reset" : nil)])
        return ConvergeResult(lab: topology.name, difference: difference, seconds: Date().timeIntervalSince(start))
    }
}

extension LabPlan {
    /// Link ends `nslab link` took down or brought up stay so.
    mutating func keepLinkStates(_ states: [String: Bool]) {
        guard !states.isEmpty else { return }
        for n in nodes.indices {
            for i in nodes[n].interfaces.indices {
                if let up = states["\(nodes[n].name):\(nodes[n].interfaces[i].name)"] { nodes[n].interfaces[i].up = up }
            }
        }
    }
}

extension LabPlan {
    /// A stopped node stays stopped: its interfaces down, nothing running.
    mutating func keepStopped(_ stopped: Set<String>) {
        guard !stopped.isEmpty else { return }
        for n in nodes.indices where stopped.contains(nodes[n].name) {
            for i in nodes[n].interfaces.indices where nodes[n].interfaces[i].name != "lo" { nodes[n].interfaces[i].up = false }
            nodes[n].commands = []
            nodes[n].stopped = true
        }
    }
}

/// A node being changed: its namespace (opened, with a socket in it, through the run's bounded
/// OpenNamespaces, and so perhaps closed and opened again between two changes), its interfaces'
/// indexes. Undo steps keep targets for the whole run: they hold no open file.
final class ConvergeTarget {
    let name: String
    let location: NodeNamespace
    private let opened: OpenNamespaces
    var indexes: [String: Int32]

    init(name: String, namespace: NodeNamespace, opened: OpenNamespaces, indexes: [String: Int32]) {
        self.name = name; self.location = namespace; self.opened = opened; self.indexes = indexes
    }

    /// The node's namespace, open.
    var namespace: NetworkNamespace { get throws { try opened.open(location).namespace } }
    /// A netlink socket inside the node.
    var socket: NetlinkSocket { get throws { try opened.open(location).socket } }

    /// The node if its namespace is still the recorded one (`inode`), and its interfaces'
    /// indexes: from `links` when the caller has read them, else asked here.
    static func open(node: String, namespace name: String, inode: UInt64?, lab: String, opened: OpenNamespaces,
                     links: [LinkInfo]? = nil) throws -> ConvergeTarget {
        guard let inode, NamedNamespaces.inode(of: name) == inode else {
            throw LabError.refused("node \(node) of lab \(lab) is gone or no longer nslab's; run `nslab deploy` again")
        }
        let target = ConvergeTarget(name: node, namespace: NodeNamespace(name: name, inode: inode), opened: opened, indexes: [:])
        let known = try links ?? target.socket.links()
        target.indexes = Dictionary(known.map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
        return target
    }

    func index(of interface: String) throws -> Int32 {
        if let index = indexes[interface] { return index }
        // Made by this run in another node's batch, or renamed: ask the kernel.
        indexes = Dictionary(try socket.links().map { ($0.name, $0.index) }, uniquingKeysWith: { a, _ in a })
        guard let index = indexes[interface] else {
            throw LabError.refused("interface \(name):\(interface) is gone; run `nslab deploy` again")
        }
        return index
    }

    func execute(_ messages: [NetlinkMessage]) throws {
        do {
            try socket.execute(messages)
        } catch let error as NetlinkError {
            throw LabError.kernel(error, node: name)
        }
    }
}

/// A `.writeFile` change, as the batch of them is written.
struct FileWrite {
    var node: String
    var file: PlannedFile
    var previous: String?
    var line: String
}

/// One converge: carries out the changes in order and keeps, for each, how to undo it.
final class ConvergeRun {
    let topology: Topology
    let plan: LabPlan
    let observed: ObservedLab
    let record: LabRecord
    private var targets: [String: ConvergeTarget] = [:]
    /// The nodes' namespaces and sockets open now: a bounded few, whatever the lab's size.
    private let opened = OpenNamespaces()
    private var nextIndex: Int32
    private var undo: [(what: String, action: () throws -> Void)] = []

    init(topology: Topology, plan: LabPlan, observed: ObservedLab, record: LabRecord) {
        self.topology = topology; self.plan = plan; self.observed = observed; self.record = record
        nextIndex = observed.highestIndex + 1
    }

    func target(_ node: String) throws -> ConvergeTarget {
        if let target = targets[node] { return target }
        guard let known = observed.node(node) else {
            throw LabError.refused("node \(node) of lab \(topology.name) is gone or no longer nslab's; run `nslab deploy` again")
        }
        let target = try ConvergeTarget.open(node: node, namespace: known.namespace, inode: known.inode, lab: topology.name,
                                             opened: opened, links: known.kernel?.links)
        targets[node] = target
        return target
    }

    /// A lab-wide unique index for a new interface (see LabIndexes).
    func newIndex() -> Int32 {
        defer { nextIndex += 1 }
        return nextIndex
    }

    func apply(_ changes: [LabChange]) throws {
        var position = 0
        while position < changes.count {
            try Interruption.check()
            // Nodes come and go in batches (their namespaces are made on several threads at
            // once), and files are written in one (one look at the record, several threads).
            let added = consecutive(changes, from: &position) { if case .addNode(let node) = $0 { node } else { nil } }
            if !added.isEmpty { try addNodes(added); continue }
            let removed = consecutive(changes, from: &position) { if case .removeNode(let node) = $0 { node } else { nil } }
            if !removed.isEmpty { try removeNodes(removed); continue }
            let files = consecutive(changes, from: &position) { change -> FileWrite? in
                guard case .writeFile(let node, let file, let previous) = change else { return nil }
                return FileWrite(node: node, file: file, previous: previous, line: change.line)
            }
            if !files.isEmpty { try writeFiles(files); continue }
            let frr = consecutive(changes, from: &position) { change -> (FRRNodeConfig, ObservedFRR?)? in
                if case .startFRR(_, let config, let previous) = change { (config, previous) } else { nil }
            }
            if !frr.isEmpty { try startFRR(frr); continue }
            try apply(changes[position])
            position += 1
        }
    }

    /// What `pick` takes from the changes starting at `position`, up to the first it does not
    /// take; `position` moves past them.
    private func consecutive<T>(_ changes: [LabChange], from position: inout Int, _ pick: (LabChange) -> T?) -> [T] {
        var taken: [T] = []
        while position < changes.count, let value = pick(changes[position]) {
            taken.append(value)
            position += 1
        }
        return taken
    }

    /// Done, one way or the other: the undo steps (which hold this run, and through it the
    /// record's lock) and the nodes' sockets are let go.
    func finish() {
        undo.removeAll()
        targets.removeAll()
        opened.closeAll()
    }

    /// Undoes what was done, newest first; returns what could not be undone.
    func rollBack() -> [String] {
        var failures: [String] = []
        for step in undo.reversed() {
            do { try step.action() } catch { failures.append("\(step.what): \(error)") }
        }
        undo.removeAll()
        return failures
    }

    private func onFailure(_ what: String, _ action: @escaping () throws -> Void) { undo.append((what, action)) }

    private func irreversible(_ what: String) {
        onFailure(what) { throw LabError.refused("cannot be undone") }
    }

    // MARK: the changes

    private func apply(_ change: LabChange) throws {
        switch change {
        case .addNode, .removeNode:
            preconditionFailure("nodes are added and removed in batches")

        case .setForwarding(let node, let forwards):
            let target = try target(node)
            try target.namespace.run { try Sysctl.setForwarding(forwards, reading: target.socket) }
            onFailure(change.line) { try target.namespace.run { try Sysctl.setForwarding(!forwards, reading: target.socket) } }

        case .setTTL(let node, let from, let to):
            let target = try target(node)
            // Every interface there now but lo: each keeps the hop limit it was made with.
            let interfaces = try target.socket.links().filter { !$0.isLoopback }.map(\.name)
            try target.namespace.run { try Sysctl.setDefaultTTL(to, interfaces: interfaces) }
            onFailure(change.line) { try target.namespace.run { try Sysctl.setDefaultTTL(from, interfaces: interfaces) } }

        case .addLink(let link, let ends):
            try addLink(link, ends: ends)

        case .removeLink(let end, _), .removeInterface(let end, _):
            let target = try target(end.node)
            try target.execute([LinkRequest.delete(index: try target.index(of: end.interface), name: end.interface)])
            target.indexes[end.interface] = nil
            if case .removeLink(_, let peer?) = change { targets[peer.node]?.indexes[peer.interface] = nil }
            irreversible(change.line)

        case .addInterface(let node, let interface):
            try addInterface(interface, on: try target(node))

        case .setMTU(let end, let from, let to):
            try setLink(end, change, { LinkRequest.set(index: $0, name: end.interface, mtu: to) },
                        undo: from.map { mtu in { LinkRequest.set(index: $0, name: end.interface, mtu: mtu) } })

        case .setMAC(let end, let from, let to):
            try setLink(end, change, { LinkRequest.set(index: $0, name: end.interface, mac: to) },
                        undo: from.map { mac in { LinkRequest.set(index: $0, name: end.interface, mac: mac) } })

        case .setMaster(let end, let from, let to):
            let target = try target(end.node)
            // Index 0: no master (`ip link set … nomaster`).
            let master = try to.map { try target.index(of: $0) } ?? 0
            let previous = try from.map { try target.index(of: $0) } ?? 0
            try setLink(end, change, { LinkRequest.set(index: $0, name: end.interface, master: master) },
                        undo: { LinkRequest.set(index: $0, name: end.interface, master: previous) })

        case .setUp(let end, let up):
            try setLink(end, change, { LinkRequest.set(index: $0, name: end.interface, up: up) },
                        undo: { LinkRequest.set(index: $0, name: end.interface, up: !up) })

        case .addAddress(let end, let prefix):
            let target = try target(end.node)
            let index = UInt32(try target.index(of: end.interface))
            try target.execute([AddressRequest.add(prefix, index: index, interface: end.interface).replacing()])
            onFailure(change.line) { try target.execute([AddressRequest.delete(prefix, index: index, interface: end.interface)]) }

        case .removeAddress(let end, let prefix):
            let target = try target(end.node)
            let index = UInt32(try target.index(of: end.interface))
            try target.execute([AddressRequest.delete(prefix, index: index, interface: end.interface)])
            onFailure(change.line) { try target.execute([AddressRequest.add(prefix, index: index, interface: end.interface)]) }

        case .addNeighbour(let end, let entry):
            let target = try target(end.node)
            let index = try target.index(of: end.interface)
            try target.execute([NeighbourRequest.addPermanent(entry.address, linkAddress: entry.mac, index: index, interface: end.interface)])
            onFailure(change.line) { try target.execute([NeighbourRequest.delete(entry.address, index: index, interface: end.interface)]) }

        case .removeNeighbour(let end, let entry):
            let target = try target(end.node)
            let index = try target.index(of: end.interface)
            try target.execute([NeighbourRequest.delete(entry.address, index: index, interface: end.interface)])
            onFailure(change.line) {
                try target.execute([NeighbourRequest.addPermanent(entry.address, linkAddress: entry.mac, index: index, interface: end.interface)])
            }

        case .setImpairment(let end, let from, let to):
            let target = try target(end.node)
            let index = try target.index(of: end.interface)
            try setImpairment(to, on: end, index: index, target: target)
            onFailure(change.line) { try self.setImpairment(from, on: end, index: index, target: target) }

        case .setPortVLANs(let end, let from, let to):
            let target = try target(end.node)
            let index = try target.index(of: end.interface)
            let current = from ?? .kernelDefault
            var requests = to.additions.map { BridgeVLANRequest.add($0, index: index, interface: end.interface) }
            let wanted = Set(to.additions.map(\.vid))
            requests += (Set(current.untagged + current.tagged + (current.pvid.map { [$0] } ?? [])).subtracting(wanted)).sorted()
                .map { BridgeVLANRequest.delete(vid: $0, index: index, interface: end.interface) }
            do {
                try target.execute(requests)
            } catch LabError.kernel(let error, _) {
                throw LabDeployer.vlanRefusal(error) ?? LabError.kernel(error, node: end.node)
            }
            irreversible(change.line)

        case .addRoute(let node, let route):
            let target = try target(node)
            let info = try routeInfo(route, target: target)
            // Replacing: a route through an interface whose address changed may still be there.
            try target.execute([RouteRequest.add(info, describedAs: route.text).replacing()])
            onFailure(change.line) { try target.execute([RouteRequest.delete(info, describedAs: route.text)]) }

        case .replaceRoute(let node, _, let route):
            let target = try target(node)
            let info = try routeInfo(route, target: target)
            let before = try target.socket.routes().first { RouteKey($0) == RouteKey(route) }
            try target.execute([RouteRequest.add(info, describedAs: route.text).replacing()])
            onFailure(change.line) {
                if let before { try target.execute([RouteRequest.add(before, describedAs: route.text).replacing()]) }
            }

        case .removeRoute(let node, let route, let text):
            let target = try target(node)
            try target.execute([RouteRequest.delete(route, describedAs: text)])
            onFailure(change.line) { try target.execute([RouteRequest.add(route, describedAs: text)]) }

        case .writeFile(let node, let file, let previous):
            try writeFiles([FileWrite(node: node, file: file, previous: previous, line: change.line)])

        case .removeFile(let node, let name):
            let namespace = try namespaceName(of: node)
            if let content = try NodeFiles.remove(namespace: namespace, name: name) {
                onFailure(change.line) { try NodeFiles.replace(namespace: namespace, name: name, content: content) }
            }

        case .startCommand(let node, let argv):
            let target = try target(node)
            let recorded = NodeEnvironmentRecord(entries: try record.entries(NodeEnvironmentRecord.events))
            let utsFD = try NodeEnvironment.openUTS(lab: topology.name, node: node, recorded: recorded)
            defer { if let utsFD { close(utsFD) } }
            let process = try NodeProcesses.start(argv, origin: "topology", node: node, namespace: target.namespace,
                                                  utsFD: utsFD, record: record)
            onFailure(change.line) { _ = NodeProcesses.endRunning([process]) }

        case .endCommand(_, let process):
            _ = NodeProcesses.endRunning([process])
            irreversible(change.line)

        case .startFRR:
            preconditionFailure("FRR nodes are started in batches")

        case .removeFRR(let node, let previous):
            try FRRNodes.remove(node: node, record: record)
            if !previous.daemons.isEmpty {
                onFailure(change.line) { [self] in
                    try FRRNodes.restart([previous.configuration(node: node)], topology: topology, record: record)
                }
            }

        case .startFlap(let flap):
            let process = try LinkFlap.start(flap, namespace: try target(flap.end.node).namespace, record: record)
            onFailure(change.line) { _ = NodeProcesses.endRunning([process]) }

        case .restartFlap(let flap, let previous):
            let target = try target(flap.end.node)
            let wasRunning = NodeProcesses.endRunning([previous]) > 0
            if wasRunning { onFailure(change.line) { [self] in try restartProcess(previous, in: target) } }
            let process = try LinkFlap.start(flap, namespace: try target.namespace, record: record)
            onFailure(change.line) { _ = NodeProcesses.endRunning([process]) }

        case .endFlap(let node, let process):
            let target = try target(node)
            if NodeProcesses.endRunning([process]) > 0 {
                onFailure(change.line) { [self] in try restartProcess(process, in: target) }
            }
        }
    }

    /// A schedule ended by this run, started again from its beginning on a rollback (where it
    /// was in its schedule is not known).
    private func restartProcess(_ process: RecordedProcess, in target: ConvergeTarget) throws {
        _ = try NodeProcesses.start(process.command, origin: process.origin, node: process.node, namespace: target.namespace,
                                    utsFD: nil, record: record)
    }

    /// FRR nodes (re)started together, as deploy starts them. Undone by ending what started and
    /// starting again, with their files, what ran before.
    private func startFRR(_ nodes: [(config: FRRNodeConfig, previous: ObservedFRR?)]) throws {
        onFailure("+ frr " + nodes.map(\.config.node).joined(separator: ", ")) { [self] in
            try FRRNodes.end(nodes: Set(nodes.map(\.config.node)), record: record)
            let previous = nodes.compactMap { node in node.previous.map { $0.configuration(node: node.config.node) } }
            try FRRNodes.write(previous.filter(\.daemons.isEmpty), topology: topology, record: record)
            try FRRNodes.restart(previous.filter { !$0.daemons.isEmpty }, topology: topology, record: record)
        }
        try FRRNodes.restart(nodes.map(\.config), topology: topology, record: record)
    }

    /// Each file written whole (see NodeFiles.replace), its directory made and recorded first
    /// where the node has none yet.
    private func writeFiles(_ writes: [FileWrite]) throws {
        let files = try writes.map { (namespace: try namespaceName(of: $0.node), file: $0.file, previous: $0.previous, line: $0.line) }
        let byNamespace = Dictionary(grouping: files, by: \.namespace)
        try NodeFiles.prepare(byNamespace.map { ($0.key, $0.value.map(\.file.name)) }.sorted { $0.namespace < $1.namespace },
                              recorded: NodeEnvironmentRecord(entries: try record.entries(NodeEnvironmentRecord.events)),
                              record: record)
        let written = Mutex<[Int]>([])
        // Files of the same content (a generated hosts file) are written once and hard-linked,
        // as deploy shares them: 1,000 writes of 60 KB become one.
        var first: [String: Int] = [:]
        for index in files.indices where first[files[index].file.content] == nil { first[files[index].file.content] = index }
        let originals = Set(first.values)
        do {
            _ = try NamespaceThread.forEach(originals.sorted(), threads: NodeFiles.fileThreads) { index in
                try NodeFiles.replace(namespace: files[index].namespace, name: files[index].file.name, content: files[index].file.content)
                written.withLock { $0.append(index) }
            }
            _ = try NamespaceThread.forEach(files.indices.filter { !originals.contains($0) }, threads: NodeFiles.fileThreads) { index in
                let source = files[first[files[index].file.content] ?? index]
                let original = "\(NodeFiles.directory(of: source.namespace))/\(source.file.name)"
                if !NodeFiles.hardLink(namespace: files[index].namespace, name: files[index].file.name, to: original) {
                    try NodeFiles.replace(namespace: files[index].namespace, name: files[index].file.name,
                                          content: files[index].file.content)
                }
                written.withLock { $0.append(index) }
            }
        } catch {
            undoFiles(written.withLock { $0 }.map { files[$0] })
            throw error
        }
        for item in files {
            onFailure(item.line) {
                if let previous = item.previous {
                    try NodeFiles.replace(namespace: item.namespace, name: item.file.name, content: previous)
                } else {
                    _ = try NodeFiles.remove(namespace: item.namespace, name: item.file.name)
                }
            }
        }
    }

    /// Puts back files this batch wrote before one of them failed.
    private func undoFiles(_ files: [(namespace: String, file: PlannedFile, previous: String?, line: String)]) {
        for item in files {
            if let previous = item.previous {
                try? NodeFiles.replace(namespace: item.namespace, name: item.file.name, content: previous)
            } else {
                _ = try? NodeFiles.remove(namespace: item.namespace, name: item.file.name)
            }
        }
    }

    private func namespaceName(of node: String) throws -> String {
        if let planned = plan.node(node) { return planned.namespace }
        guard let known = observed.node(node) else { throw LabError.refused("node \(node) is not in lab \(topology.name)") }
        return known.namespace
    }

    /// A request about interface `end` (given its index); `undo`'s is sent on a rollback.
    private func setLink(_ end: InterfaceRef, _ change: LabChange, _ request: (Int32) -> NetlinkMessage,
                         undo: ((Int32) -> NetlinkMessage)?) throws {
        let target = try target(end.node)
        let index = try target.index(of: end.interface)
        try target.execute([request(index)])
        if let undo { onFailure(change.line) { try target.execute([undo(index)]) } }
    }

    private func routeInfo(_ route: PlannedRoute, target: ConvergeTarget) throws -> RouteInfo {
        RouteInfo(destination: route.destination, gateway: route.gateway,
                  outputIndex: try route.device.map { UInt32(try target.index(of: $0)) }, metric: route.metric)
    }

    private func setImpairment(_ impairment: Impairment?, on end: InterfaceRef, index: Int32, target: ConvergeTarget) throws {
        let current = try target.socket.rootQdiscs().first { $0.index == index }
        let link = LinkEnd(node: end.node, interface: end.interface)
        if let impairment {
            try LinkControl.apply(impairment, socket: target.socket, index: index, end: link, replacing: current)
        } else if let current, ImpairmentQdisc.impairment(of: current) != nil {
            try target.execute([QdiscRequest.deleteRoot(index: index, name: end.interface)])
        }
    }

    // MARK: interfaces

    /// Both ends made in their namespaces at once, with their MTU and MAC, then put on their
    /// bridge and brought up (the peer of a new veth cannot be created up).
    private func addLink(_ link: PlannedLink, ends: [PlannedInterface]) throws {
        if case .vxlan(let tunnel) = link.kind { return try addTunnel(tunnel, end: link.ends[0], interface: ends[0]) }
        let targets = try link.ends.map { try target($0.node) }
        // Held here until the request is sent: the kernel reads the fds then.
        let namespaces = try targets.map { try $0.namespace }
        let indexes = [newIndex(), newIndex()]
        try record.append([RecordEntry(event: .links, interfaces: link.ends.map(\.description))])
        let veth = { (i: Int) in
            VethEnd(name: ends[i].name, namespaceFD: namespaces[i].fd, index: indexes[i], mtu: ends[i].mtu,
                    mac: ends[i].mac, queues: LabDeployer.vethQueues)
        }
        try targets[0].execute([LinkRequest.createVeth(veth(0), peer: veth(1), up: false)])
        for i in 0..<2 { targets[i].indexes[ends[i].name] = indexes[i] }
        onFailure("+ \(link.ends[0]) -- \(link.ends[1])") {
            try targets[0].execute([LinkRequest.delete(index: indexes[0], name: ends[0].name)])
        }
        // Up, as deploy makes every link (an end declared down goes down with the others).
        for i in 0..<2 {
            let master = try ends[i].master.map { try targets[i].index(of: $0) }
            try targets[i].execute([LinkRequest.set(index: indexes[i], name: ends[i].name, up: true, master: master)])
        }
    }

    /// Made from this process's own namespace, the machine's, where the tunnel's socket belongs.
    private func addTunnel(_ tunnel: VXLANTunnel, end: InterfaceRef, interface: PlannedInterface) throws {
        let target = try target(end.node)
        let namespace = try target.namespace
        let index = newIndex()
        try record.append([RecordEntry(event: .links, interfaces: [end.description])])
        do {
            try NetlinkSocket().execute([LinkKind.tunnelRequest(tunnel, name: interface.name, namespaceFD: namespace.fd,
                                                                index: index, mtu: interface.mtu, mac: interface.mac)])
        } catch let error as NetlinkError {
            throw LabError.kernel(error, node: end.node)
        }
        target.indexes[interface.name] = index
        onFailure("+ link \(end) (vxlan \(tunnel.vni))") {
            try target.execute([LinkRequest.delete(index: index, name: interface.name)])
        }
        let master = try interface.master.map { try target.index(of: $0) }
        try target.execute([LinkRequest.set(index: index, name: interface.name, up: true, master: master)])
    }

    private func addInterface(_ interface: PlannedInterface, on target: ConvergeTarget) throws {
        let request: NetlinkMessage
        let index: Int32
        switch interface.kind {
        case .bridge(let stp, let vlanFiltering):
            index = LabDeployer.bridgeIndex
            request = LinkRequest.createBridge(name: interface.name, index: index, stp: stp, vlanFiltering: vlanFiltering)
        case .vlan(let parent, let id):
            index = newIndex()
            request = LinkRequest.createVLAN(name: interface.name, index: index, parent: try target.index(of: parent), vlan: id)
        case .linkEnd:
            preconditionFailure("link ends are added with their link")
        }
        do {
            try target.execute([request])
        } catch LabError.kernel(let error, _) {
            throw LabDeployer.vlanRefusal(error) ?? LabError.kernel(error, node: target.name)
        }
        target.indexes[interface.name] = index
        onFailure("+ interface \(target.name):\(interface.name)") {
            try target.execute([LinkRequest.delete(index: index, name: interface.name)])
        }
    }

    // MARK: nodes

    /// "node a", "nodes a, b, c", "300 nodes (leaf1, leaf2, leaf3, …)".
    private func nodeList(_ nodes: [String]) -> String {
        if nodes.count == 1 { return "node \(nodes[0])" }
        if nodes.count <= 5 { return "nodes " + nodes.joined(separator: ", ") }
        return "\(nodes.count) nodes (" + nodes.prefix(3).joined(separator: ", ") + ", …)"
    }

    /// Made as deploy makes them (namespace, forwarding, host name, loopback up with the lab's
    /// alias), recorded before they exist; their links, addresses and files are changes of their own.
    private func addNodes(_ planned: [PlannedNode]) throws {
        let names = Set(planned.map(\.name))
        let nodes = topology.nodes.filter { names.contains($0.name) }
        try record.append(nodes.map { RecordEntry(event: .namespace, name: topology.namespaceName(of: $0.name), node: $0.name) })
        onFailure("+ \(nodeList(nodes.map(\.name)))") { [self] in
            let entries = try record.entries()
            let summary = RecordSummary(lab: record.lab, entries: entries)
            let environment = NodeEnvironmentRecord(entries: entries)
            let made = summary.namespaces.filter { names.contains($0.node) }.map { entry in
                ObservedNode(name: entry.node, namespace: entry.name, inode: summary.inodes[entry.name], kernel: nil,
                             recordedProcesses: environment.processes.filter { $0.node == entry.node })
            }
            try removeNodes(made)
        }
        try NodeEnvironment.prepareHostNames(topology, only: nodes, record: record)
        let created = try LabDeployer.createNamespaces(topology, only: nodes, record: record)
        for deployed in created {
            let target = ConvergeTarget(name: deployed.node.name, namespace: deployed.namespace, opened: opened,
                                        indexes: ["lo": LabDeployer.loopbackIndex])
            targets[deployed.node.name] = target
            try target.execute([LinkRequest.set(index: LabDeployer.loopbackIndex, name: "lo", up: true,
                                                alias: ownershipAlias(lab: topology.name, node: deployed.node.name))])
        }
    }

    /// As destroy removes a lab, for some of its nodes: their processes, namespaces, host names
    /// and /etc directories; then the record says they are gone.
    private func removeNodes(_ nodes: [ObservedNode]) throws {
        var doomed: [(node: ObservedNode, inode: UInt64)] = []
        for node in nodes {
            targets[node.name] = nil
            guard let mounted = NamedNamespaces.inode(of: node.namespace) else {
                // Nothing mounted: at most the file an interrupted deploy reserved for it.
                try? NamedNamespaces.delete(node.namespace)
                continue
            }
            if let inode = node.inode, inode == mounted {
                doomed.append((node, mounted))
            } else if node.inode == nil, LabDestroyer.looksLikeOurs(namespace: node.namespace, lab: topology.name) {
                doomed.append((node, mounted))
            }
        }
        NamespaceProcesses.terminateAll(inNamespacesWithInodes: Set(doomed.map(\.inode)))
        _ = NodeProcesses.endRunning(nodes.flatMap(\.recordedProcesses))
        do {
            for (node, _) in doomed { try NamedNamespaces.delete(node.namespace) }
        } catch let error as NamespaceError {
            throw LabError.namespace(error)
        }
        let environment = NodeEnvironmentRecord(entries: try record.entries(NodeEnvironmentRecord.events))
        for node in nodes {
            if let uts = environment.uts(of: node.name) { UTSNamespace.remove(at: uts.path) }
            NodeFiles.remove(environment.directories.filter { $0.path == NodeFiles.directory(of: node.namespace) })
            // Its FRR directories, once its daemons have ended with its namespace's processes.
            FRRNodes.remove(environment.frrDirectories.filter {
                $0.path == FRRPaths.configDirectory(node.namespace) || $0.path == FRRPaths.runDirectory(node.namespace)
            })
        }
        try record.append(nodes.map { RecordEntry(event: .nodeRemoved, name: $0.namespace, node: $0.name) })
        irreversible("- \(nodeList(nodes.map(\.name)))")
    }
}
