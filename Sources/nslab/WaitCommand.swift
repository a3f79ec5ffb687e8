import ArgumentParser
import Foundation
import Lab

/// What `deploy` and `wait` share: how long to wait for a lab's routing.
struct RoutingWaitFlags: ParsableArguments {
    @Option(help: "Give up waiting for the routing after this many seconds (exit 1).")
    var timeout: Double = 60

    /// Waits for the lab's routing, reporting on stderr; false when it did not converge in time.
    func wait(lab: String, quiet: Bool, json: Bool) throws -> (result: RoutingWaitResult?, converged: Bool) {
        let progress = Progress(enabled: !quiet)
        defer { progress.finish() }
        guard let result = try RoutingWait.wait(lab: lab, timeout: timeout, progress: progress.stage) else { return (nil, true) }
        progress.finish()
        if !json {
            if result.converged {
                print("lab \(lab): routing converged in \(String(format: "%.1f", result.seconds)) s (\(counted(result.routers, "router")))")
            } else {
                note("nslab: lab \(lab): routing has not converged after \(Int(timeout)) s:")
                for line in result.pending.prefix(10) { note("  - \(line)") }
                if result.pending.count > 10 { note("  … and \(result.pending.count - 10) more") }
            }
        }
        return (result, result.converged)
    }
}

struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until a lab's routing (OSPF, BGP) has converged.",
        discussion: """
        Converged: every router has a route to every subnet of the routers it reaches over links \
        that are up, every adjacency and session on those links is up in FRR, and no routing table \
        has changed for a second. Use it after `nslab link … down`, `nslab node … stop` or a \
        converge. A lab without a routing protocol has nothing to wait for. Exit status: 0 \
        converged, 1 not within --timeout, 2 bad input.
        """)

    @Argument(help: "The lab.")
    var lab: String

    @OptionGroup var waitFlags: RoutingWaitFlags

    @OptionGroup var output: QuietOption
    var quiet: Bool { output.quiet }

    @Flag(help: "The result as JSON.")
    var json = false

    func run() throws {
        var converged = true
        try reportingErrors {
            if SpreadLab.isSpread(lab: lab) {
                converged = SpreadCommands.waitForRouting(lab: lab, waitFlags: waitFlags, quiet: quiet, json: json)
                return
            }
            let outcome = try waitFlags.wait(lab: lab, quiet: quiet, json: json)
            converged = outcome.converged
            if json { try printJSON(WaitReport(lab: lab, result: outcome.result)) }
            else if outcome.result == nil { print("lab \(lab) runs no routing protocol: nothing to wait for") }
        }
        if !converged { throw ExitCode(1) }
    }
}

struct WaitReport: Codable {
    var lab: String
    var routing: Bool
    var converged: Bool
    var seconds: Double?
    var pending: [String]

    init(lab: String, result: RoutingWaitResult?) {
        self.lab = lab
        routing = result != nil
        converged = result?.converged ?? true
        seconds = result?.seconds
        pending = result?.pending ?? []
    }
}
