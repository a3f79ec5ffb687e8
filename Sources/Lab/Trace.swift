import Foundation
import NetAddress
import Namespaces
import Netlink
import Topology

/// One TTL of a trace.
public struct TraceHop: Codable, Sendable {
    public var ttl: Int
    /// The address that answered (time exceeded, or the echo reply at the end), if any did.
    public var address: String?
    /// "node:interface" of that address in the lab.
    public var name: String?
    /// Milliseconds per query; nil for a query that got no answer ("*").
    public var milliseconds: [Double?]
    /// The destination answered at this TTL.
    public var reached: Bool
    /// traceroute's annotation for unreachable answers: "!N", "!H", "!X", …
    public var note: String?

    public var node: String? { name?.split(separator: ":").first.map(String.init) }
}

public struct TraceResult: Codable, Sendable {
    public var lab: String
    public var from: String
    public var target: String
    public var destination: String
    public var maxHops: Int
    public var hops: [TraceHop]
    public var reached: Bool { hops.last?.reached == true }

    /// The nodes the packets crossed before the destination (nil for a hop that did not answer).
    public var intermediateNodes: [String?] { hops.filter { !$0.reached }.map(\.node) }
}

public struct TraceOptions: Sendable {
    public var maxHops = 30
    public var queries = 3
    public var timeout: Double = 1
    public var family: IPAddress.Family?
    public init(maxHops: Int = 30, queries: Int = 3, timeout: Double = 1, family: IPAddress.Family? = nil) {
        self.maxHops = maxHops; self.queries = queries; self.timeout = timeout; self.family = family
    }
}

public enum Tracer {
    public static func trace(lab: String?, from source: String, to target: String, options: TraceOptions = TraceOptions()) throws -> TraceResult {
        let network = try LabNetwork.read(lab: try LabNetwork.locate(node: source, lab: lab))
        let resolved = try network.resolve(target)
        guard let destination = resolved.addresses.first(where: { options.family == nil || $0.family == options.family }) else {
            throw ProbeError.unknownTarget(target, lab: network.lab, hint: "it has no \(options.family?.description ?? "") address")
        }
        let namespace = try network.namespace(of: source)
        let sockets: [ICMPSocket]
        do { sockets = try ICMPSocket.open(in: namespace, families: [destination.family]) } catch let error as SystemCallError {
            throw ProbeError.socket(node: source, error)
        }
        let hops = trace(network: network, sockets: sockets, traces: [destination], options: options)[0]
        return TraceResult(lab: network.lab, from: source, target: target, destination: destination.description,
                           maxHops: options.maxHops, hops: hops)
    }

    /// Traces to several destinations from one socket each at once: every TTL of every trace is
    /// sent together (as traceroute's -N does), and the answers are sorted out by sequence number.
    static func trace(network: LabNetwork, sockets: [ICMPSocket], traces destinations: [IPAddress], socketFor: ((Int) -> Int)? = nil,
                      options: TraceOptions) -> [[TraceHop]] {
        var probes: [Probe] = []
        for (index, destination) in destinations.enumerated() {
            let socket = socketFor?(index) ?? 0
            for ttl in 1...options.maxHops {
                for _ in 0..<options.queries { probes.append(Probe(socket: socket, destination: destination, ttl: ttl)) }
            }
        }
        let replies = ProbeEngine.run(sockets: sockets, probes: probes, timeout: options.timeout, retries: 0, window: 1024, payloadSize: 32)
        return destinations.indices.map { index in
            var hops: [TraceHop] = []
            let base = index * options.maxHops * options.queries
            for ttl in 1...options.maxHops {
                let answers = (0..<options.queries).map { replies[base + (ttl - 1) * options.queries + $0] }
                let responder = answers.compactMap(\.responder).first
                var note: String?
                for answer in answers {
                    if case .unreachable(_, let code, _) = answer {
                        note = [0: "!N", 1: "!H", 3: "", 9: "!X", 10: "!X", 13: "!X"][Int(code)] ?? "!\(code)"
                    }
                }
                let reached = answers.contains { $0.isEcho }
                hops.append(TraceHop(ttl: ttl, address: responder?.description,
                                     name: responder.flatMap(network.owner(of:)).map(network.hopName),
                                     milliseconds: answers.map { $0.seconds.map { $0 * 1000 } }, reached: reached, note: note))
                if reached || note != nil { break }
            }
            return hops
        }
    }

    /// As traceroute prints it, each address followed by its node:interface.
    public static func render(_ result: TraceResult) -> String {
        var lines = ["traceroute to \(result.target) (\(result.destination)), \(result.maxHops) hops max"]
        for hop in result.hops {
            // traceroute's layout: " 1  ADDRESS  0.027 ms  0.007 ms", " 2  * * *".
            var words: [String] = hop.address.map { ["\($0) (\(hop.name ?? "?"))"] } ?? []
            let mark = hop.note.map { $0.isEmpty ? "" : " \($0)" } ?? ""
            words += hop.milliseconds.map { time in time.map { String(format: "%.3f ms", $0) + mark } ?? "*" }
            let separator = hop.address == nil ? " " : "  "
            lines.append(String(format: "%2d  ", hop.ttl) + words.joined(separator: separator))
        }
        return lines.joined(separator: "\n")
    }
}
