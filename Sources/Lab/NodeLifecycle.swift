import Foundation
import Namespaces
import Netlink
import Topology

/// `nslab node LAB NODE stop|start|restart`: a node switched off and on without losing it. Its
/// namespace, addresses and record stay; stopping ends what runs in it and takes its interfaces
/// down (the nodes on the other ends see their carrier go), starting brings them back from the
/// lab's plan and starts its `commands:` again. Both are recorded, so a later `deploy` keeps the
/// node as it was put until `deploy --reset`.
public enum NodeLifecycle {
    public struct Result: Sendable {
        public var node: String
        public var interfaces: [String]
        public var processesEnded: Int
        public var processesStarted: Int
    }

    public static func stop(lab: String, node: String) throws -> Result {
        let record = try LabRecord(lab: lab, create: false)
        let (planned, target) = try open(lab: lab, node: node, record: record)
        try record.append([RecordEntry(event: .nodeState, time: Date().timeIntervalSince1970, node: node, up: false)])
        let ended = NamespaceProcesses.terminateAll(inNamespacesWithInodes: [target.location.inode])
            + NodeProcesses.endRunning(NodeEnvironmentRecord(entries: try record.entries(NodeEnvironmentRecord.events))
                .processes.filter { $0.node == node })
        let interfaces = planned.interfaces.map(\.name)
        var requests: [NetlinkMessage] = []
        for name in interfaces { if let index = target.indexes[name] { requests.append(LinkRequest.set(index: index, name: name, up: false)) } }
        try target.execute(requests)
        return Result(node: node, interfaces: interfaces, processesEnded: ended, processesStarted: 0)
    }

    /// Brings the node back as the lab's plan has it now: converging with the node's own
    /// changes only (its interfaces up, their addresses, neighbour entries and routes, its
    /// commands and FRR), so the routes through its links come back on both sides.
    public static func start(lab: String, node: String) throws -> Result {
        let record = try LabRecord(lab: lab, create: false)
        _ = try open(lab: lab, node: node, record: record)
        try record.append([RecordEntry(event: .nodeState, time: Date().timeIntervalSince1970, node: node, up: true)])
        let topology = try recordedTopology(lab: lab, record: record)
        let entries = try record.entries()
        let summary = RecordSummary(lab: lab, entries: entries)
        var plan = LabPlan(topology)
        plan.keepLinkStates(summary.linkStates)
        plan.keepStopped(summary.stoppedNodes)
        let observed = try ObservedLab.read(lab: lab, entries: entries)
        let difference = LabDifference.compute(plan: plan, observed: observed, previous: plan, prune: false)
        // This node's changes, and the routes of its neighbours that went with its links.
        let neighbours = Set(plan.links.filter { $0.ends.contains { $0.node == node } }.flatMap(\.ends).map(\.node))
        let changes = difference.changes.filter { change in
            if change.node == node { return true }
            if case .addRoute = change { return neighbours.contains(change.node) }
            return false
        }
        let run = ConvergeRun(topology: topology, plan: plan, observed: observed, record: record)
        defer { run.finish() }
        do {
            try run.apply(changes)
        } catch {
            _ = run.rollBack()
            throw error
        }
        let started = changes.filter { change in
            switch change {
            case .startCommand, .startFRR, .startFlap, .restartFlap: return true
            default: return false
            }
        }.count
        return Result(node: node, interfaces: plan.node(node)?.interfaces.map(\.name) ?? [], processesEnded: 0,
                      processesStarted: started)
    }

    static func recordedTopology(lab: String, record: LabRecord) throws -> Topology {
        guard let text = try? String(contentsOfFile: record.topologyCopyPath, encoding: .utf8),
              let topology = try? Topology.parse(yaml: text, file: record.topologyCopyPath) else {
            throw LabError.record(lab: lab, problem: "its topology copy \(record.topologyCopyPath) is missing or unreadable; deploy the lab's file again")
        }
        return topology
    }

    /// The node's plan and its namespace, opened alone (not the whole lab).
    private static func open(lab: String, node: String, record: LabRecord) throws -> (PlannedNode, ConvergeTarget) {
        try Privileges.check(for: "stop or start a node")
        let topology = try recordedTopology(lab: lab, record: record)
        guard let planned = LabPlan(topology).node(node) else {
            throw LabError.unknownNode(lab: lab, node: node, known: topology.nodes.map(\.name))
        }
        let summary = try record.summary()
        guard let namespace = summary.namespaces.first(where: { $0.node == node })?.name else {
            throw LabError.refused("node \(node) of lab \(lab) has no namespace on record; run `nslab deploy` again")
        }
        return (planned, try ConvergeTarget.open(node: node, namespace: namespace, inode: summary.inodes[namespace], lab: lab,
                                                 opened: OpenNamespaces(capacity: 1)))
    }
}
