import ArgumentParser
import Foundation
import Lab
import Topology

/// What `deploy` and `diff` share: the file, and how a deployed lab is compared with it.
struct ConvergeFlags: ParsableArguments {
    @Argument(help: "The topology file: nslab YAML, or a containerlab topology (recognised by its `topology:` key).")
    var file: String

    @Flag(help: "Also remove what is in the lab's nodes that no version of its topology put there (an address or a route added by hand).")
    var prune = false

    @Flag(help: "Forget the link states `nslab link … down|up` recorded: links take the state the file gives them.")
    var reset = false

    @Flag(help: "The changes as a JSON list.")
    var json = false

    var options: ConvergeOptions { ConvergeOptions(prune: prune, reset: reset) }

    func load() throws -> (text: String, topology: Topology) { try TopologyFile.load(file) }
}

struct Deploy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the lab a topology file describes, or make a deployed lab match it.",
        discussion: """
        On a deployed lab, only what differs from the file changes (nodes, links, addresses, routes, \
        files, commands), each change printed on one line: + added, ~ changed, - removed. What is \
        unchanged keeps its namespace, interfaces and processes. Changes made by hand are put back \
        too; things added by hand are reported and removed only with --prune. A failure or Ctrl-C \
        half-way undoes what the run changed. Exit status: 0 done, 1 failed, 2 bad input.
        """)

    @OptionGroup var flags: ConvergeFlags

    @OptionGroup var output: QuietOption
    var quiet: Bool { output.quiet }

    @Flag(help: "Return once the lab is built, without waiting for its routing (OSPF, BGP) to converge; `nslab wait` waits later.")
    var noWait = false

    @OptionGroup var waitFlags: RoutingWaitFlags

    func run() throws {
        var converged = true
        defer { if !converged { Foundation.exit(1) } }
        try reportingErrors {
            let (text, topology) = try flags.load()
            if topology.isSpread {
                try SpreadCommands.deploy(topology, flags: flags, quiet: quiet)
                if topology.routing.isDynamic && !noWait {
                    converged = SpreadCommands.waitForRouting(lab: topology.name, waitFlags: waitFlags, quiet: quiet, json: flags.json)
                }
                return
            }
            if let warning = LabDeployer.neighbourTableWarning(topology) { note("nslab: warning: \(warning)") }
            if let ttl = LabDeployer.ttlNote(topology) { note("nslab: \(ttl)") }
            Interruption.catchSignals()
            let progress = Progress(enabled: !quiet)
            defer { progress.finish() }
            let result = try LabDeployer.deploy(topology, sourceText: text, options: flags.options, progress: progress.stage)
            progress.finish()
            // The routing, once what deploy printed is out.
            defer {
                if topology.routing.isDynamic && !noWait {
                    converged = (try? waitFlags.wait(lab: result.lab, quiet: quiet, json: flags.json).converged) ?? false
                }
            }
            guard let converged = result.converged else {
                if flags.json { try printJSON(DeployReport(lab: result.lab, created: true, changes: [])); return }
                print("lab \(result.lab) deployed: \(counted(result.nodes, "node")), \(counted(result.links, "link")), "
                      + "\(counted(result.addresses, "address", "addresses")), \(counted(result.routes, "route")) in "
                      + String(format: "%.1f ms", result.seconds * 1000))
                return
            }
            if flags.json {
                try printJSON(DeployReport(lab: result.lab, created: false, changes: converged.difference.records))
                return
            }
            ChangeListing.print(converged.difference)
            if converged.difference.isEmpty {
                print("lab \(result.lab) matches \(flags.file); nothing to do")
            } else {
                print(String(format: "lab %@ converged: %@ in %.1f ms", result.lab,
                             ChangeListing.summary(converged.difference.changes), converged.seconds * 1000))
            }
        }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what deploying a topology file would change; change nothing.",
        discussion: """
        The same lines deploy prints (+ added, ~ changed, - removed); for a lab that is not deployed, \
        the whole deploy. Things added by hand are listed with `?` (deploy --prune removes them). \
        Exit status: 0 the lab matches the file, 1 changes are pending, 2 bad input.
        """)

    @OptionGroup var flags: ConvergeFlags

    func run() throws {
        var pending = false
        try reportingErrors {
            let (_, topology) = try flags.load()
            if topology.isSpread {
                let parts = try SpreadLab.difference(topology, version: NSLabVersion.line, options: flags.options)
                let changes = parts.flatMap { part in part.changes.map { (part.host, $0) } }
                pending = !changes.isEmpty
                if flags.json {
                    try printJSON(parts.map { SpreadReport.Part(host: $0.host ?? "", changes: $0.changes) })
                } else {
                    for (host, change) in changes { print("\(SpreadCommands.hostLabel(host)): \(change.line)") }
                    print(pending ? "\(counted(changes.count, "change")) pending on \(counted(Set(changes.map { $0.0 ?? "" }).count, "host"))"
                                  : "lab \(topology.name) matches \(flags.file) on \(counted(parts.count, "host"))")
                }
                return
            }
            let difference = try LabConverger.difference(topology, options: flags.options)
            pending = !difference.isEmpty
            if flags.json {
                try printJSON(difference.records)
            } else {
                ChangeListing.print(difference)
                print(pending ? "\(ChangeListing.summary(difference.changes)) pending" : "lab \(topology.name) matches \(flags.file)")
            }
        }
        if pending { throw ExitCode(1) }
    }
}

/// The changes as people read them: one line each, the same file written on many nodes (a
/// generated /etc/hosts when a node comes or goes) on one line.
enum ChangeListing {
    static func print(_ difference: LabDifference) {
        var index = 0
        let changes = difference.changes
        while index < changes.count {
            let change = changes[index]
            if case .writeFile(_, let file, let previous) = change {
                var nodes = [change.node]
                var next = index + 1
                while next < changes.count, case .writeFile(let node, let other, let otherPrevious) = changes[next],
                      other == file, (otherPrevious == nil) == (previous == nil) {
                    nodes.append(node)
                    next += 1
                }
                if nodes.count > 3 {
                    Swift.print("\(change.operation == .add ? "+" : "~") file /etc/\(file.name) of \(counted(nodes.count, "node")): "
                                + nodes.prefix(3).joined(separator: ", ") + ", …")
                    index = next
                    continue
                }
            }
            Swift.print(change.line)
            index += 1
        }
        let shown = Set(changes.map(\.line))
        for change in difference.foreign where !shown.contains(change.line) {
            Swift.print("? \(change.text) (not nslab's: --prune removes it)")
        }
    }

    /// "2 added, 1 changed, 3 removed".
    static func summary(_ changes: [LabChange]) -> String {
        let counts = Dictionary(grouping: changes, by: \.operation).mapValues(\.count)
        let parts = [(LabChange.Operation.add, "added"), (.change, "changed"), (.remove, "removed")].compactMap { operation, word in
            counts[operation].map { "\($0) \(word)" }
        }
        let total = changes.count
        return "\(total) \(total == 1 ? "change" : "changes") (\(parts.joined(separator: ", ")))"
    }
}
