import Foundation
import NetAddress
import Namespaces
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// `nslab ping`: iputils ping's output and exit status, from a raw socket inside the source node.
public struct PingOptions: Sendable {
    /// nil: until stopped, as ping without -c.
    public var count: Int?
    public var interval: Double = 1
    /// -W: how long to wait for the replies after the last request.
    public var timeout: Double = 1
    /// -I: an address of the source node, or one of its interfaces.
    public var source: String?
    public var family: IPAddress.Family?
    public var payloadSize = 56

    public init(count: Int? = nil, interval: Double = 1, timeout: Double = 1, source: String? = nil, family: IPAddress.Family? = nil) {
        self.count = count; self.interval = interval; self.timeout = timeout; self.source = source; self.family = family
    }
}

public struct PingStatistics: Sendable {
    public var transmitted = 0
    public var received = 0
    public var errors = 0
    public var rtts: [Double] = []
    public init() {}
    /// 0 when any reply came, 1 when none did: what ping exits with.
    public var exitCode: Int32 { received > 0 ? 0 : 1 }
}

/// The kernel refused the first request (no route, no source address): ping's exit status 2.
public struct PingSendError: Error, CustomStringConvertible, Sendable {
    public var errno: Int32
    public var description: String { "connect: \(String(cString: strerror(errno)))" }
}

public enum Pinger {
    public static func ping(lab: String?, from source: String, to target: String, options: PingOptions,
                            output: (String) -> Void, shouldStop: () -> Bool = { false }) throws -> PingStatistics {
        let network = try LabNetwork.read(lab: try LabNetwork.locate(node: source, lab: lab))
        let namespace = try network.namespace(of: source)
        let resolved = try network.resolve(target)
        let candidates = resolved.addresses.filter { options.family == nil || $0.family == options.family }
        guard let destination = candidates.first else {
            throw ProbeError.unknownTarget(target, lab: network.lab, hint: "it has no \(options.family?.description ?? "") address")
        }
        var bindTo: IPAddress?
        if let text = options.source {
            bindTo = IPAddress(text) ?? network.addresses(of: source, interface: text).first { $0.family == destination.family }
            if bindTo == nil {
                throw ProbeError.unknownTarget(text, lab: network.lab, hint: "-I takes an address of \(source) or one of its interfaces")
            }
        }
        let socket: ICMPSocket
        do {
            guard let opened = try ICMPSocket.open(in: namespace, families: [destination.family], source: bindTo).first else {
                throw SystemCallError("socket", code: EINVAL)
            }
            socket = opened
        } catch let error as SystemCallError {
            throw ProbeError.socket(node: source, error)
        }

        let name = IPAddress(target) == nil ? target : destination.description
        let from = bindTo.map { " from \($0) :" } ?? ""
        if destination.family == .ipv4 {
            output("PING \(name) (\(destination))\(from) \(options.payloadSize)(\(options.payloadSize + 28)) bytes of data.")
        } else {
            output("PING \(name)(\(destination))\(from) \(options.payloadSize) data bytes")
        }

        var statistics = PingStatistics()
        var sentAt: [UInt16: Double] = [:]
        var answered = Set<UInt16>()
        var buffer = [UInt8](repeating: 0, count: 2048)
        var control = [UInt8](repeating: 0, count: 128)
        let start = monotonicSeconds()
        var nextSend = start
        var lastSend = start
        var sequence: UInt16 = 0
        var pollSet = [pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)]
        while !shouldStop() {
            let now = monotonicSeconds()
            let moreToSend = options.count.map { statistics.transmitted < $0 } ?? true
            if moreToSend, now >= nextSend {
                sequence &+= 1
                let error = socket.send(to: destination, sequence: sequence, payloadSize: options.payloadSize)
                if error != 0 {
                    if statistics.transmitted == 0 { throw PingSendError(errno: error) }
                    output("ping: sendmsg: \(String(cString: strerror(error)))")
                    statistics.errors += 1
                }
                statistics.transmitted += 1
                sentAt[sequence] = monotonicSeconds()
                lastSend = sentAt[sequence] ?? now
                nextSend += options.interval
                continue
            }
            if !moreToSend {
                let allAnswered = answered.count + statistics.errors >= statistics.transmitted
                if allAnswered || now >= lastSend + options.timeout { break }
            }
            let until = moreToSend ? nextSend : lastSend + options.timeout
            _ = poll(&pollSet, 1, Int32(max(0, min(until - now, 0.2)) * 1000 + 1))
            while let message = socket.receive(&buffer, &control) {
                guard let sent = sentAt[message.sequence] else { continue }
                let rtt = (monotonicSeconds() - sent) * 1000
                switch message.kind {
                case .echoReply:
                    let duplicate = !answered.insert(message.sequence).inserted
                    if !duplicate { statistics.received += 1; statistics.rtts.append(rtt) }
                    output("\(options.payloadSize + 8) bytes from \(message.from): icmp_seq=\(message.sequence) ttl=\(message.ttl ?? 0) time=\(formatMilliseconds(rtt)) ms\(duplicate ? " (DUP!)" : "")")
                case .timeExceeded:
                    statistics.errors += 1
                    answered.insert(message.sequence)
                    output("From \(message.from) icmp_seq=\(message.sequence) Time to live exceeded")
                case .unreachable(let code):
                    statistics.errors += 1
                    answered.insert(message.sequence)
                    output("From \(message.from) icmp_seq=\(message.sequence) \(unreachableText(code, family: destination.family))")
                }
            }
        }
        let elapsed = Int(((lastSend - start) * 1000).rounded())
        output("")
        output("--- \(name) ping statistics ---")
        let loss = statistics.transmitted == 0 ? 0 : (statistics.transmitted - statistics.received) * 100 / statistics.transmitted
        let errors = statistics.errors > 0 ? ", +\(statistics.errors) errors" : ""
        output("\(statistics.transmitted) packets transmitted, \(statistics.received) received\(errors), \(loss)% packet loss, time \(elapsed)ms")
        if !statistics.rtts.isEmpty {
            let rtts = statistics.rtts
            let average = rtts.reduce(0, +) / Double(rtts.count)
            let deviation = (rtts.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(rtts.count)).squareRoot()
            output("rtt min/avg/max/mdev = \([rtts.min() ?? 0, average, rtts.max() ?? 0, deviation].map(formatMilliseconds).joined(separator: "/")) ms")
        }
        return statistics
    }

    /// "%.3f" without Foundation's formatter, which took a quarter of a 2,000,000-probe verify.
    static func formatMilliseconds(_ value: Double) -> String {
        guard value.isFinite, value >= 0, value < 1e12 else { return String(format: "%.3f", value) }
        let thousandths = Int((value * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// iputils' words for ICMP and ICMPv6 destination unreachable codes.
    static func unreachableText(_ code: UInt8, family: IPAddress.Family) -> String {
        if family == .ipv6 {
            let words = ["No route", "Administratively prohibited", "Beyond scope", "Address unreachable", "Port unreachable"]
            return "Destination unreachable: " + (Int(code) < words.count ? words[Int(code)] : "code \(code)")
        }
        switch code {
        case 0: return "Destination Net Unreachable"
        case 1: return "Destination Host Unreachable"
        case 3: return "Destination Port Unreachable"
        case 9, 10, 13: return "Packet filtered"
        default: return "Dest Unreachable, Bad Code: \(code)"
        }
    }
}
