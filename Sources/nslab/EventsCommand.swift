import ArgumentParser
import Foundation
import Lab

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what changes in deployed labs, as it happens.",
        discussion: """
        One line per change, with its ISO 8601 time (milliseconds) and the lab: links up and down \
        (link-up, link-down) and their carrier (carrier-up, carrier-down: the other end went), \
        interfaces added and removed, addresses, routes of the main table with the protocol that \
        installed them (kernel: a subnet's own route; boot: added as `ip route add` adds them, as \
        nslab does; static, ospf, bgp, zebra, …), impairments set and cleared, processes nslab \
        started in a node (started, exited), nodes added, removed, stopped and started, labs \
        deployed, converged and destroyed. Interfaces are named node:interface.
        The kernel tells nslab of each change on one netlink socket per node (as `nslab serve` \
        listens); nothing is polled. The kernel does not announce the routes it drops with a link \
        going down: the link-down line stands for them. A lab's kernel changes are reported once its deploy has \
        finished: the deploy itself is one lab-deployed line.
        With no LAB, every deployed lab. A named lab that is not deployed yet is waited for. \
        A lab spread over hosts (deployed from here with `hosts:`) is followed on every host too: \
        each host's own nslab events, run over ssh, merged into this stream, every line of another \
        host ending with `on HOST` (--json: a "host" field); a host that cannot be reached, or \
        whose stream stops, is named on stderr and the others go on. \
        Stops on Ctrl-C, and by itself once every lab it follows is destroyed; with --follow it \
        keeps going and follows labs deployed from then on (named ones, or any with no LAB).
        --json: one JSON object per line: time, type, lab, and as the event has them node, \
        interface, address, destination, gateway, metric, protocol, impairment, pid, command, file, \
        host.
        It also stops when nothing reads its output any more (a pipe closed, a terminal hung up).
        Exit status: 0 when stopped (by Ctrl-C or the labs' destroy), 1 when the events cannot be \
        read, 2 bad input.
        """)

    @Argument(help: ArgumentHelp("The labs to follow, by name or topology file (default: every deployed lab).", valueName: "LAB"))
    var labs: [String] = []

    @Flag(help: "One JSON object per line.")
    var json = false

    @Flag(help: "Keep going when the labs are destroyed, and follow labs deployed later.")
    var follow = false

    /// For the controller of a spread lab, which runs this on each host: with --json, one line
    /// `{"following": [LAB…]}` once the labs are followed, so that it knows from when on the
    /// host's changes are in the stream.
    @Flag(help: .hidden)
    var announceStart = false

    func run() throws {
        // Ctrl-C and SIGTERM end the stream where it is, with nothing half-written.
        Interruption.catchSignals()
        try reportingErrors {
            let names = try labs.map(labName(from:))
            try names.forEach(LabRecord.validate(lab:))
            let monitor = try LabEventMonitor(labs: names, follow: follow)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            // Written at once, unbuffered: a stream read by another program gets each line as it
            // happens, not when a buffer fills.
            let write = { (line: String) in FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
            monitor.run(emit: { event in
                write(json ? (try? encoder.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? "{}" : event.line)
            }, note: { note("nslab: \($0)") }, started: {
                guard announceStart && json, let line = try? encoder.encode(["following": names]) else { return }
                write(String(decoding: line, as: UTF8.self))
            }, output: STDOUT_FILENO)
        }
    }
}
