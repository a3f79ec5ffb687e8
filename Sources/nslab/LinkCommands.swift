import ArgumentParser
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
        Impairments are one root qdisc per interface, set over rtnetlink: netem, or tbf when only \
        a rate (and limit) is asked for. Kernels without netem (CONFIG_NET_SCH_NETEM off) refuse \
        everything but rate. The delay distribution is sent to the kernel but not reported back by it.
        """)

    @Argument(help: "The lab.")
    var lab: String

    @Argument(help: "One end of the link: NODE:INTERFACE.")
    var end: String

    @Argument(help: "down, up, set, clear or show.")
    var action: String

    @Argument(help: "For set: KEY=VALUE pairs.")
    var parameters: [String] = []

    @Flag(name: .customLong("end"), help: "Only this end (what INTERFACE sends), not both directions.")
    var onlyThisEnd = false

    @Flag(help: "For show: JSON.")
    var json = false

    func run() throws {
        try reportingProbeErrors {
            switch action {
            case "down", "up":
                try refuseParameters()
                let ends = try LinkControl.setState(lab: lab, target: end, up: action == "up")
                note("nslab: link \(ends.map(\.id).joined(separator: " <-> ")) \(action)")
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
            default:
                throw BadInput("unknown action '\(action)'; use down, up, set, clear or show")
            }
        }
    }

    func refuseParameters() throws {
        if !parameters.isEmpty { throw BadInput("'\(action)' takes no parameters (got \(parameters.joined(separator: " ")))") }
    }
}
