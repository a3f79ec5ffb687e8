import ArgumentParser
import CShims
import Foundation
import Lab
import Topology

struct LinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Take a link down or up, or impair it (delay, loss, rate, …), live.",
        discussion: """
        A link is named by either end, NODE:INTERFACE.
          down | up        both ends, as pulling the cable out and plugging it back in
          set K=V …        impair what the link sends: delay=20ms jitter=5ms distribution=normal \
        loss=1% loss-correlation=25% duplicate=1% corrupt=0.1% reorder=10% rate=10mbit limit=1000 \
        (units as tc: s/ms/us, %, bit/kbit/mbit/gbit or bps/kbps/mbps). Both directions unless --end \
        (then only what INTERFACE sends). Parameters not named keep their values.
          clear            remove the impairment (both ends unless --end)
          show             what each end does now, read back from the kernel (--json)
          flap             --down-after T --down-for D [--times N] [--up-for U]: down after T, \
        up again after D, N times (U apart, default D); each change printed with its time. \
        Ctrl-C stops and leaves the link up. Times: 2, 2s, 500ms.
        Impairments are one root qdisc per interface, set over rtnetlink: netem, or tbf when only \
        a rate (and limit) is asked for. Kernels without netem (CONFIG_NET_SCH_NETEM off) refuse \
        everything but rate. The delay distribution is sent to the kernel but not reported back by it. \
        \(ExitStatus.standard)
        """)

    @Argument(help: "The lab.")
    var lab: String

    @Argument(help: "One end of the link: NODE:INTERFACE.")
    var end: String

    @Argument(help: "down, up, set, clear, show or flap.")
    var action: String

    @Argument(help: "For set: KEY=VALUE pairs.")
    var parameters: [String] = []

    @Flag(name: .customLong("end"), help: "Only this end (what INTERFACE sends), not both directions.")
    var onlyThisEnd = false

    @Flag(help: "For show: JSON.")
    var json = false

    @Option(help: "For flap: seconds before the link goes down (2, 2s, 500ms).")
    var downAfter: String?

    @Option(help: "For flap: how long it stays down.")
    var downFor: String?

    @Option(help: "For flap: how long it stays up between flaps (default: --down-for).")
    var upFor: String?

    @Option(help: "For flap: how many times.")
    var times: Int = 1

    private func setState(_ target: String) throws {
        try reportingProbeErrors {
            try refuseParameters()
            let ends = try LinkControl.setState(lab: lab, target: target, up: action == "up")
            note("nslab: link \(ends.map(\.id).joined(separator: " <-> ")) \(action)")
        }
    }

    func run() throws {
        // A link between hosts goes down and up at both ends, each on its own host.
        if ["down", "up"].contains(action), let ends = SpreadLab.linkEnds(lab: lab, end: end) {
            var status: Int32 = 0
            for (target, host) in ends {
                if let host {
                    status = max(status, RemoteHosts.attach(host, ["link", lab, target, action]))
                } else {
                    do { try setState(target) } catch let exit as ExitCode { status = max(status, exit.rawValue) }
                }
            }
            if status != 0 { throw ExitCode(status) }
            return
        }
        SpreadCommands.forward(node: String(end.prefix { $0 != ":" }), lab: lab)
        try reportingProbeErrors {
            switch action {
            case "down", "up":
                try setState(end)
            case "set":
                guard !parameters.isEmpty else { throw BadInput("give what to set: nslab link \(lab) \(end) set delay=20ms loss=1%") }
                var change = Impairment()
                for parameter in parameters {
                    let parts = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw BadInput("'\(parameter)' is not KEY=VALUE (e.g. delay=20ms)") }
                    if let problem = change.set(parts[0], to: parts[1]) { throw BadInput(problem) }
                }
                for result in try LinkControl.impair(lab: lab, target: end, change: change, onlyThisEnd: onlyThisEnd) {
                    print("\(result.end.id): \(result.impairment?.text ?? "")")
                }
            case "clear":
                try refuseParameters()
                let ends = try LinkControl.clear(lab: lab, target: end, onlyThisEnd: onlyThisEnd)
                note("nslab: impairment cleared on \(ends.map(\.id).joined(separator: ", "))")
            case "show":
                try refuseParameters()
                let results = try LinkControl.show(lab: lab, target: end)
                if json { try printJSON(results); return }
                for result in results {
                    print("\(result.end.id): \(result.impairment.map { $0.isEmpty ? "(\(result.qdisc), nothing set)" : $0.text } ?? "none (\(result.qdisc))")")
                }
            case "flap":
                try refuseParameters()
                func seconds(_ text: String?, _ name: String) throws -> Double? {
                    guard let text else { return nil }
                    guard let value = LinkFlap.seconds(text) else { throw BadInput("--\(name) must be a time such as 2, 2s or 500ms, not '\(text)'") }
                    return value
                }
                guard let after = try seconds(downAfter, "down-after"), let down = try seconds(downFor, "down-for") else {
                    throw BadInput("flap needs --down-after T and --down-for D")
                }
                guard times >= 1 else { throw BadInput("--times must be 1 or more") }
                let flap = LinkFlap(downAfter: after, downFor: down, upFor: try seconds(upFor, "up-for"), times: times)
                // Ctrl-C sets a flag: the schedule stops and the link is brought back up.
                nslab_catch_interrupts()
                try flap.run(lab: lab, target: end) { line in
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
            default:
                throw BadInput("unknown action '\(action)'; use down, up, set, clear, show or flap")
            }
        }
    }

    func refuseParameters() throws {
        if !parameters.isEmpty { throw BadInput("'\(action)' takes no parameters (got \(parameters.joined(separator: " ")))") }
    }
}
