import Foundation
import Netlink
import NetAddress
import Topology

/// What deploying a spread lab did on each machine.
public struct SpreadDeployResult: Sendable {
    public struct Part: Sendable {
        /// nil: this machine.
        public var host: String?
        public var report: DeployReport
        public var nodes: Int
    }

    public var lab: String
    public var created: Bool
    public var parts: [Part]
    /// Hosts that no longer have nodes of the lab, whose parts were destroyed.
    public var released: [String]
    public var seconds: Double
}

extension SpreadLab {
    /// Deploys or converges a lab spread over hosts: every host checked first (reached, same
    /// nslab, underlays routed), then this machine's part, then every host's part at once. A
    /// host that fails undoes the whole run: a new lab is destroyed everywhere it was made; a
    /// converged one is put back to its previous parts.
    public static func deploy(_ topology: Topology, version: String, options: ConvergeOptions = ConvergeOptions(),
                              progress: (ProgressStep) -> Void = { _ in }) throws -> SpreadDeployResult {
        let started = Date()
        try Privileges.check(for: "deploy a lab")
        let previous = isSpread(lab: topology.name) ? try? recorded(lab: topology.name) : nil
        if previous == nil, LabRecord.exists(lab: topology.name) {
            throw LabError.refused("lab \(topology.name) is deployed on this machine alone; destroy it first "
                                   + "(`nslab destroy \(topology.name)`) to deploy it over hosts")
        }
        let hosts = topology.hostsWithNodes.map(RemoteHost.init)
        // Hosts the previous version had nodes on and this one has not: their parts go.
        let previousHosts = previous?.hostsWithNodes ?? []
        let released = previousHosts.filter { host in !hosts.contains { $0.name == host.name } }.map(RemoteHost.init)
        defer { RemoteHosts.closeConnections(hosts + released) }

        progress("reaching \(counted(hosts.count + released.count, "host"))")
        let resolution = try resolve(topology, hosts: hosts + released, version: version)
        var resolved = topology
        resolved.vxlan.local = resolution.underlays[""]
        for index in resolved.hosts.indices {
            resolved.hosts[index].underlay = resolution.underlays[resolved.hosts[index].name] ?? resolved.hosts[index].underlay
        }
        // Released hosts stay in the record until their parts are gone.
        var recordedLab = resolved
        recordedLab.hosts += (previous?.hosts ?? []).filter { old in released.contains { $0.name == old.name } && !resolved.hosts.contains { $0.name == old.name } }

        // This machine's part first: it has the lab's record, where the whole lab is written
        // before any other host is touched.
        progress("deploying this machine's part")
        let localPart = topology.part(for: nil, underlays: resolution.underlays)
        let localText = partText(localPart, of: topology)
        var parts: [SpreadDeployResult.Part] = []
        let localHadPart = previous?.nodes.contains { $0.host == nil } == true
        if !localPart.nodes.isEmpty || localHadPart {
            let local = try LabDeployer.deploy(localPart, sourceText: localText, options: options)
            parts.append(SpreadDeployResult.Part(host: nil, report: DeployReport(lab: topology.name, created: local.converged == nil,
                                                                                 changes: local.converged?.difference.records ?? []),
                                                 nodes: localPart.nodes.count))
        } else if !LabRecord.exists(lab: topology.name) {
            try recordControllerOnly(topology)
        }
        try write(recordedLab)

        progress("deploying the parts of \(counted(hosts.count, "host"))")
        let arguments = ["deploy", "--json", "--quiet", "--no-wait"] + (options.prune ? ["--prune"] : []) + (options.reset ? ["--reset"] : []) + ["-"]
        let outcomes = RemoteHosts.each(hosts) { host in
            RemoteHosts.nslab(host, arguments, input: Data(partText(topology.part(for: host.name, underlays: resolution.underlays), of: topology).utf8))
        }
        let failed = outcomes.filter { !$0.succeeded }
        if !failed.isEmpty {
            let succeeded = zip(hosts, outcomes).filter { $0.1.succeeded }.map(\.0)
            let undone = rollBack(topology, previous: previous, changed: succeeded,
                                  localChanged: !localPart.nodes.isEmpty || localHadPart)
            var lines = failed.map { "host \($0.host ?? ""): \($0.unreachable ? "lost: " : "")\($0.reason)" }
            lines += undone
            throw LabError.spread(lines)
        }
        for (host, outcome) in zip(hosts, outcomes) {
            let report = (try? JSONDecoder().decode(DeployReport.self, from: Data(outcome.output.utf8)))
                ?? DeployReport(lab: topology.name, created: true, changes: [])
            parts.append(SpreadDeployResult.Part(host: host.name, report: report,
                                                 nodes: topology.nodes.filter { $0.host == host.name }.count))
        }
        // Hosts left without nodes.
        var releasedNames: [String] = []
        if !released.isEmpty {
            let removed = RemoteHosts.each(released) { RemoteHosts.nslab($0, ["destroy", "--quiet", topology.name]) }
            let failures = removed.filter { !$0.succeeded }
            releasedNames = removed.filter(\.succeeded).compactMap(\.host)
            if failures.isEmpty {
                try write(resolved)
            } else {
                throw LabError.spread(failures.map { "host \($0.host ?? ""): its part of lab \(topology.name) is left: \($0.reason); "
                                                     + "`nslab destroy \(topology.name)` tries again" })
            }
        }
        return SpreadDeployResult(lab: topology.name, created: previous == nil, parts: parts, released: releasedNames,
                                  seconds: Date().timeIntervalSince(started))
    }

    /// Undoes a run that failed on some host: a new lab is destroyed on every host of the record; a
    /// converge puts back the hosts that `changed` (and this machine). Lines saying what was undone
    /// and what could not be.
    private static func rollBack(_ topology: Topology, previous: Topology?, changed hosts: [RemoteHost],
                                 localChanged: Bool) -> [String] {
        var lines: [String] = []
        guard let previous else {
            // A new lab: gone from every host; the hosts that cannot be reached stay in the record.
            guard let (_, left) = try? destroy(lab: topology.name) else { return ["rolling back failed: run `nslab destroy \(topology.name)`"] }
            for outcome in left {
                lines.append("host \(outcome.host ?? ""): could not be cleaned (\(outcome.reason)); its part of lab \(topology.name) may be "
                             + "left there: `nslab destroy \(topology.name)` here tries again once it can be reached")
            }
            lines.append(left.isEmpty ? "rolled back: lab \(topology.name) is on no host" : "rolled back on every other host")
            return lines
        }
        // A converge: the hosts that changed go back to their previous parts.
        var underlays = Dictionary(previous.hosts.compactMap { host in host.underlay.map { (host.name, $0) } }, uniquingKeysWith: { a, _ in a })
        underlays[""] = previous.vxlan.local
        let previousUnderlays = underlays
        let outcomes = RemoteHosts.each(hosts) { host in
            previous.nodes.contains { $0.host == host.name }
                ? RemoteHosts.nslab(host, ["deploy", "--quiet", "--no-wait", "-"], input: Data(partText(previous.part(for: host.name, underlays: previousUnderlays), of: previous).utf8))
                : RemoteHosts.nslab(host, ["destroy", "--quiet", topology.name])
        }
        for outcome in outcomes where !outcome.succeeded {
            lines.append("host \(outcome.host ?? ""): could not be put back (\(outcome.reason))")
        }
        if localChanged {
            let localPart = previous.part(for: nil, underlays: underlays)
            if !localPart.nodes.isEmpty {
                _ = try? LabDeployer.deploy(localPart, sourceText: partText(localPart, of: previous))
            }
        }
        try? write(previous)
        lines.append("rolled back: the other hosts are as before")
        return lines
    }

    /// The record of a lab whose nodes are all on other hosts: the controller holds no node.
    private static func recordControllerOnly(_ topology: Topology) throws {
        let record = try LabRecord(lab: topology.name, create: true)
        try record.append([RecordEntry(event: .lab, lab: topology.name, file: LabDeployer.absolutePath(topology.file),
                                       prefix: topology.prefix, time: Date().timeIntervalSince1970),
                           RecordEntry(event: .deployed, time: Date().timeIntervalSince1970)])
    }

    private static func write(_ topology: Topology) throws {
        let text = YAMLWriter.yaml(of: topology, header: [
            "Lab \(topology.name) spread over hosts, as nslab deployed it from \(topology.file), every host's underlay resolved.",
        ])
        guard FileManager.default.createFile(atPath: path(lab: topology.name), contents: Data(text.utf8)) else {
            throw LabError.system(SystemCallError("write \(path(lab: topology.name))"), context: "recording lab \(topology.name)")
        }
    }

    // MARK: destroy

    /// Every host's part, then this machine's. Hosts that cannot be reached keep their parts and
    /// stay in the record, so that a later destroy tries them again.
    public static func destroy(lab: String) throws -> (destroyed: [String], left: [HostOutcome]) {
        let topology = try recorded(lab: lab)
        let hosts = topology.hosts.map(RemoteHost.init)
        defer { RemoteHosts.closeConnections(hosts) }
        let outcomes = RemoteHosts.each(hosts) { RemoteHosts.nslab($0, ["destroy", "--quiet", lab]) }
        // A host that has no such lab any more is done.
        let left = outcomes.filter { !$0.succeeded && !$0.error.contains("is not deployed") }
        _ = try LabDestroyer.destroy(lab: lab)
        if !left.isEmpty {
            var remaining = topology
            remaining.hosts = topology.hosts.filter { host in left.contains { $0.host == host.name } }
            // The nodes left, by name and host only: all a later destroy needs.
            remaining.nodes = topology.nodes.filter { node in remaining.hosts.contains { $0.name == node.host } }
                .map { Node(name: $0.name, kind: $0.kind, location: $0.location, host: $0.host) }
            remaining.routing = .none
            remaining.links = []
            remaining.expectations = []
            try recordControllerOnly(remaining)
            try write(remaining)
        }
        return (outcomes.filter { $0.succeeded }.compactMap(\.host), left)
    }

    /// `arguments` run by nslab on every host of the lab at once.
    public static func onEveryHost(lab: String, _ arguments: [String]) throws -> [HostOutcome] {
        let hosts = try hosts(lab: lab)
        defer { RemoteHosts.closeConnections(hosts) }
        return RemoteHosts.each(hosts) { RemoteHosts.nslab($0, arguments) }
    }
}

extension SpreadLab {
    /// What deploying `topology` would change on each machine (nil: this one), changing nothing.
    public static func difference(_ topology: Topology, version: String, options: ConvergeOptions = ConvergeOptions())
        throws -> [(host: String?, changes: [ChangeRecord])] {
        let hosts = topology.hostsWithNodes.map(RemoteHost.init)
        defer { RemoteHosts.closeConnections(hosts) }
        let resolution = try resolve(topology, hosts: hosts, version: version)
        var result: [(host: String?, changes: [ChangeRecord])] = []
        let localPart = topology.part(for: nil, underlays: resolution.underlays)
        if !localPart.nodes.isEmpty || LabRecord.exists(lab: topology.name) {
            result.append((nil, try LabConverger.difference(localPart, options: options).records))
        }
        let arguments = ["diff", "--json"] + (options.prune ? ["--prune"] : []) + (options.reset ? ["--reset"] : []) + ["-"]
        let outcomes = RemoteHosts.each(hosts) { host in
            RemoteHosts.nslab(host, arguments, input: Data(partText(topology.part(for: host.name, underlays: resolution.underlays), of: topology).utf8))
        }
        var problems: [String] = []
        for (host, outcome) in zip(hosts, outcomes) {
            guard outcome.status == 0 || outcome.status == 1,
                  let changes = try? JSONDecoder().decode([ChangeRecord].self, from: Data(outcome.output.utf8)) else {
                problems.append("host \(host.name): \(outcome.reason)")
                continue
            }
            result.append((host.name, changes))
        }
        if !problems.isEmpty { throw LabError.spread(problems) }
        return result
    }
}
