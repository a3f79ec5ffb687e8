import ArgumentParser
import Foundation
import Lab
import Topology

/// The commands on a lab spread over hosts (`hosts:`), from the machine that deployed it: each
/// host's own nslab does its part over ssh; this machine prints what each said, under its name.
enum SpreadCommands {
    static func deploy(_ topology: Topology, flags: ConvergeFlags, quiet: Bool) throws {
        let progress = Progress(enabled: !quiet)
        defer { progress.finish() }
        let result = try SpreadLab.deploy(topology, version: NSLabVersion.line, options: flags.options, progress: progress.stage)
        progress.finish()
        if flags.json {
            return try printJSON(SpreadReport(lab: result.lab, created: result.created,
                                              hosts: result.parts.map { SpreadReport.Part(host: $0.host ?? "", changes: $0.report.changes) },
                                              released: result.released))
        }
        let changes = result.parts.flatMap { part in part.report.changes.map { (part.host, $0) } }
        for (host, change) in changes {
            print("\(hostLabel(host)): \(change.line)")
        }
        for host in result.released { print("\(host): - lab part (no node of the lab is on it any more)") }
        let hosts = result.parts.map { "\(hostLabel($0.host)) \(counted($0.nodes, "node"))" }.joined(separator: ", ")
        let what = result.created ? "deployed" : changes.isEmpty && result.released.isEmpty ? "matches \(flags.file); nothing to do on" : "converged"
        print(String(format: "lab %@ %@ %@: %@ in %.1f s", result.lab, what, counted(result.parts.count, "host"), hosts, result.seconds))
    }

    static func destroy(lab: String) throws {
        let (destroyed, left) = try SpreadLab.destroy(lab: lab)
        print("lab \(lab) destroyed on this machine" + (destroyed.isEmpty ? "" : " and on \(destroyed.joined(separator: ", "))"))
        for outcome in left {
            note("nslab: host \(outcome.host ?? ""): not destroyed (\(outcome.reason)); `nslab destroy \(lab)` tries again when it can be reached")
        }
        if !left.isEmpty { throw ExitCode(1) }
    }

    /// `arguments` on every host, after `local` here (when this machine holds nodes of the lab);
    /// each output under its host's name, or with `json` one document {lab, hosts: [{host,
    /// output}]} of the hosts' JSON. Exit status: the worst.
    static func onEveryHost(lab: String, _ arguments: [String], json: Bool, local: () throws -> Void) throws {
        let here = SpreadLab.hasLocalNodes(lab: lab)
        func section(_ host: String, first: Bool) {
            if json {
                print((first ? "{\"lab\": \(quoted(lab)), \"hosts\": [\n" : ",\n") + "{\"host\": \(quoted(host)), \"output\": ", terminator: "")
            } else {
                print("== \(host.isEmpty ? "this machine" : "host " + host)")
            }
        }
        func endSection(empty: Bool) { if json { print(empty ? "null}" : "}", terminator: "") } }
        var status: Int32 = 0
        if here {
            section("", first: true)
            fflush(nil)
            do { try local() } catch let exit as ExitCode { status = exit.rawValue }
            fflush(nil)
            endSection(empty: false)
        }
        for (index, outcome) in try SpreadLab.onEveryHost(lab: lab, arguments).enumerated() {
            section(outcome.host ?? "", first: !here && index == 0)
            let text = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { print(text, terminator: json ? "" : "\n") }
            endSection(empty: text.isEmpty)
            if !outcome.succeeded {
                note("nslab: host \(outcome.host ?? ""): \(outcome.unreachable ? "cannot be reached: " : "")\(outcome.reason)")
                status = max(status, outcome.unreachable ? 1 : outcome.status)
            }
        }
        if json { print("\n]}") }
        if status != 0 { throw ExitCode(status) }
    }

    /// Waits for the routing of every host's part: this machine's here, then the others' by their
    /// own `nslab wait`, all at once. Each part waits for its routers' routes, and for the
    /// adjacencies over its links to other hosts once its end is up; by the time this machine's
    /// part has those, the hosts it reaches have theirs. One line per host; false when a part did
    /// not converge or a host could not be asked (said on stderr).
    static func waitForRouting(lab: String, waitFlags: RoutingWaitFlags, quiet: Bool, json: Bool) -> Bool {
        var results: [(host: String?, report: WaitReport?)] = []
        if SpreadLab.hasLocalNodes(lab: lab) {
            do {
                results.append((nil, WaitReport(lab: lab, result: try waitFlags.wait(lab: lab, quiet: quiet, json: true).result)))
            } catch {
                note("nslab: this machine: \(error)")
                results.append((nil, nil))
            }
        }
        let arguments = ["wait", "--json", "--quiet", "--timeout", String(waitFlags.timeout), lab]
        for outcome in (try? SpreadLab.onEveryHost(lab: lab, arguments)) ?? [] {
            let report = try? JSONDecoder().decode(WaitReport.self, from: Data(outcome.output.utf8))
            if report == nil { note("nslab: host \(outcome.host ?? ""): \(outcome.unreachable ? "cannot be reached: " : "")\(outcome.reason)") }
            results.append((outcome.host, report))
        }
        var converged = true
        for (host, report) in results {
            guard let report else { converged = false; continue }
            if report.converged {
                if !json, report.routing { print("\(hostLabel(host)): routing converged in \(String(format: "%.1f", report.seconds ?? 0)) s") }
            } else {
                converged = false
                note("nslab: \(hostLabel(host)): routing has not converged after \(Int(waitFlags.timeout)) s:")
                for line in report.pending.prefix(10) { note("  - \(line)") }
            }
        }
        return converged
    }

    private static func quoted(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    /// When `node` is a node of a spread lab on another host, runs this very command there and
    /// exits with its status; returns when the node is here.
    static func forward(node: String, lab: String?) {
        guard let (_, host) = SpreadLab.remoteNode(node, lab: lab) else { return }
        Foundation.exit(RemoteHosts.attach(host, Array(CommandLine.arguments.dropFirst())))
    }

    static func hostLabel(_ host: String?) -> String { host ?? "this machine" }
}

/// `deploy --json` of a spread lab.
struct SpreadReport: Encodable {
    struct Part: Encodable {
        /// "" for the machine nslab ran on.
        var host: String
        var changes: [ChangeRecord]
    }

    var lab: String
    var created: Bool
    var hosts: [Part]
    var released: [String]
}
