import ArgumentParser
import CShims
import Foundation
import Lab

struct Capture: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Capture the packets of a node's interface, into a pcap file or as one line each.",
        discussion: """
        Both directions of NODE:INTERFACE, seen from inside the node (an AF_PACKET socket opened in \
        its namespace). With -w the frames go to a classic pcap file (Ethernet, microsecond \
        timestamps) that tcpdump -r, tshark and Wireshark read; the file is flushed after every \
        packet. Without -w, one line per packet: time, direction, length, and ARP / IPv4 / IPv6 with \
        ICMP echo, TCP or UDP ports. Stops after -c packets or on Ctrl-C, closing the file cleanly. \
        FILTER is a tcpdump expression ("icmp", "host 10.0.0.1 and tcp port 80"): nslab has tcpdump \
        compile it (`tcpdump -dd`, run inside the node) and attaches the program to the socket, so \
        tcpdump must be installed for filters. Timestamps are taken when nslab reads each frame. \
        \(ExitStatus.standard)
        """)

    @Argument(help: "The lab.")
    var lab: String

    @Argument(help: "NODE:INTERFACE.")
    var end: String

    @Option(name: .customShort("w"), help: "Write a pcap file instead of printing.")
    var file: String?

    @Option(name: .customShort("c"), help: "Stop after this many packets.")
    var count: Int?

    @Argument(help: "A tcpdump filter expression (several words are joined, as tcpdump does).")
    var filter: [String] = []

    func run() throws {
        SpreadCommands.forward(node: String(end.prefix { $0 != ":" }), lab: lab)
        try reportingProbeErrors {
            let parts = end.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw BadInput("name the interface as NODE:INTERFACE, not \"\(end)\"") }
            if let count, count < 1 { throw BadInput("-c must be 1 or more") }
            let capture = try PacketCapture(lab: lab, node: parts[0], interface: parts[1],
                                            filter: filter.isEmpty ? nil : filter.joined(separator: " "))
            let writer = try file.map { try PcapWriter(path: $0) }
            // Ctrl-C (and TERM, HUP) only set a flag: the loop stops at the next frame or within
            // a quarter second, and the writer closes the file whole.
            nslab_catch_interrupts()
            note("nslab: capturing on \(end)\(file.map { " into \($0)" } ?? "")\(count.map { ", \(counted($0, "packet"))" } ?? ""); Ctrl-C stops")
            var seen = 0
            while count.map({ seen < $0 }) ?? true {
                guard let packet = try capture.next(shouldStop: { nslab_interrupt_signal() != 0 }) else { break }
                seen += 1
                if let writer { try writer.append(packet) } else {
                    // Straight to fd 1, unbuffered: a line per packet as it comes, even into a pipe.
                    FileHandle.standardOutput.write(Data((PacketSummary.line(packet) + "\n").utf8))
                }
            }
            note("nslab: \(seen) packet\(seen == 1 ? "" : "s") captured")
        }
    }
}
