import Foundation
import NetAddress
import Namespaces
import Netlink
import Topology

/// One probe of the all-pairs check.
public struct PairResult: Codable, Sendable {
    public var from: String
    public var to: String
    public var address: String
    public var reachable: Bool
    public var milliseconds: Double?
    /// What came back: "reply", "no reply", "unreachable from 10.0.0.254", "not sent: …".
    public var outcome: String
    /// For a failure: the path model's explanation.
    public var explanation: String?
}

public struct ExpectationResult: Codable, Sendable {
    public var expectation: String
    /// file:line:column of the expectation.
    public var location: String
    public var holds: Bool
    /// What was seen: which addresses answered, the path taken.
    public var detail: String
    public var explanation: String?
}

public struct VerifyReport: Codable, Sendable {
    public var lab: String
    public var nodes: [String]
    public var pairs: [PairResult]
    public var expectations: [ExpectationResult]
    public var seconds: Double
    /// All expectations hold, or (without expectations) every pair answers.
    public var passed: Bool
    public var failedPairs: Int { pairs.filter { !$0.reachable }.count }
}

public struct VerifyOptions: Sendable {
    /// Per attempt; a probe is tried twice before it counts as lost.
    public var timeout: Double = 0.5
    public var skipPairs = false
    public init(timeout: Double = 0.5, skipPairs: Bool = false) { self.timeout = timeout; self.skipPairs = skipPairs }
}

public enum Verifier {
    /// Probes every node to every address of every other node, all at once (one socket per
    /// node and family, many probes in flight), and checks the expectations of `topology`
    /// (the file given on the command line) or of the lab's saved topology.
    public static func verify(lab: String, topology given: Topology? = nil, options: VerifyOptions = VerifyOptions()) throws -> VerifyReport {
        let started = monotonicSeconds()
        let network = try LabNetwork.read(lab: lab)
        let expectations = (given ?? network.topology)?.expectations ?? []
        // Bridges are switches: no address to send from or to, nothing to verify of their own.
        let nodes = network.state.nodes.filter { $0.present && $0.kind != NodeKind.bridge.rawValue }.map(\.name)
        let targets = Dictionary(uniqueKeysWithValues: nodes.map { ($0, network.addresses(of: $0)) })

        // Sockets: one per node and family, opened inside each node on worker threads.
        let families: [IPAddress.Family] = [.ipv4, .ipv6]
        let namespaces = try nodes.map { try network.node($0).namespace }
        let opened: [[ICMPSocket]] = try NamespaceThread.forEach(Array(zip(nodes, namespaces)), threads: 2) { node, name in
            do {
                let namespace = try NetworkNamespace.open(name)
                try namespace.enter()  // a worker of forEach: it exits when the sockets are open
                return try families.map { try ICMPSocket(family: $0) }
            } catch let error as SystemCallError {
                throw ProbeError.socket(node: node, error)
            }
        }
        let sockets = opened.flatMap { $0 }
        // By name, not by searching `nodes`: 2,000,000 probes of a 1,000-node lab each searched it.
        let nodeIndexes = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, $0) })
        func socketIndex(_ node: String, _ family: IPAddress.Family) -> Int? {
            nodeIndexes[node].map { $0 * families.count + (family == .ipv4 ? 0 : 1) }
        }

        // Every (source, address) to probe: all pairs, plus expectation addresses not among them.
        var probes: [Probe] = []
        struct ProbeKey: Hashable {
            var from: String
            var address: IPAddress
        }
        var probeKeys: [ProbeKey: Int] = [:]
        var pairIndexes: [(from: String, to: String, address: IPAddress, probe: Int)] = []
        func probe(_ from: String, _ address: IPAddress) -> Int? {
            let key = ProbeKey(from: from, address: address)
            if let known = probeKeys[key] { return known }
            guard let socket = socketIndex(from, address.family) else { return nil }
            probes.append(Probe(socket: socket, destination: address))
            probeKeys[key] = probes.count - 1
            return probes.count - 1
        }
        if !options.skipPairs {
            for from in nodes {
                for to in nodes where to != from {
                    for address in targets[to] ?? [] {
                        if let index = probe(from, address) { pairIndexes.append((from, to, address, index)) }
                    }
                }
            }
        }
        var expectationTargets: [[IPAddress]] = []
        for expectation in expectations {
            let addresses: [IPAddress]
            switch expectation.target {
            case .node(let node): addresses = network.addresses(of: node)
            case .interface(let node, let interface): addresses = network.addresses(of: node, interface: interface)
            case .address(let address): addresses = [address]
            }
            expectationTargets.append(addresses)
            for address in addresses { _ = probe(expectation.from, address) }
        }
        let replies = ProbeEngine.runSplit(sockets: sockets, probes: probes, timeout: options.timeout, retries: 1, threads: 2)

        // Paths for "via": one trace per (source, first address of the target), all at once.
        let traced = expectations.indices.filter { !expectations[$0].via.isEmpty && !expectationTargets[$0].isEmpty }
        let traceOptions = TraceOptions(maxHops: 16, queries: 1, timeout: options.timeout * 2)
        let traceDestinations = traced.map { expectationTargets[$0][0] }
        let paths = traced.isEmpty ? [] : Tracer.trace(network: network, sockets: sockets, traces: traceDestinations, socketFor: { i in
            socketIndex(expectations[traced[i]].from, traceDestinations[i].family) ?? 0
        }, options: traceOptions)

        let model = network.model()
        func explain(_ from: String, _ address: IPAddress) -> String {
            model.explain(from: from, to: address).summary
        }
        let pairs = pairIndexes.map { entry -> PairResult in
            let reply = replies[entry.probe]
            return PairResult(from: entry.from, to: entry.to, address: entry.address.description, reachable: reply.isEcho,
                              milliseconds: reply.isEcho ? reply.seconds.map { $0 * 1000 } : nil,
                              outcome: Explainer.describe(reply, network: network),
                              explanation: reply.isEcho ? nil : explain(entry.from, entry.address))
        }

        var results: [ExpectationResult] = []
        for (index, expectation) in expectations.enumerated() {
            let addresses = expectationTargets[index]
            let answered = addresses.filter { address in
                probeKeys[ProbeKey(from: expectation.from, address: address)].map { replies[$0].isEcho } ?? false
            }
            var holds: Bool
            var detail: String
            var explanation: String?
            if addresses.isEmpty {
                holds = false
                detail = "\(expectation.target) has no addresses to probe"
            } else if expectation.reaches {
                holds = answered.count == addresses.count
                let missing = addresses.filter { !answered.contains($0) }
                detail = holds ? "answered: \(answered.map(\.description).joined(separator: ", "))"
                               : "no reply from \(missing.map(\.description).joined(separator: ", "))"
                if let first = missing.first { explanation = explain(expectation.from, first) }
            } else {
                holds = answered.isEmpty
                detail = holds ? "no reply from \(addresses.map(\.description).joined(separator: ", ")), as expected"
                               : "\(answered.map(\.description).joined(separator: ", ")) answered"
                if let first = answered.first {
                    explanation = model.explain(from: expectation.from, to: first).summary
                }
            }
            if holds, let position = traced.firstIndex(of: index) {
                let seen = paths[position].filter { !$0.reached }.map { $0.node ?? "*" }
                if seen != expectation.via {
                    holds = false
                    detail = "the path goes via \(seen.isEmpty ? "no router" : seen.joined(separator: ", ")), not \(expectation.via.joined(separator: ", "))"
                    let walked = model.walk(from: expectation.from, to: traceDestinations[position])
                    explanation = "the routes lead \(walked.hops.map(\.node).joined(separator: " → "))"
                } else {
                    detail += "; path \(([expectation.from] + seen + [expectation.target.description]).joined(separator: " → "))"
                }
            }
            results.append(ExpectationResult(expectation: expectation.text, location: expectation.location.description,
                                             holds: holds, detail: detail, explanation: explanation))
        }
        let passed = expectations.isEmpty ? pairs.allSatisfy(\.reachable) : results.allSatisfy(\.holds)
        return VerifyReport(lab: network.lab, nodes: nodes, pairs: pairs, expectations: results,
                            seconds: monotonicSeconds() - started, passed: passed)
    }

    /// JUnit XML, as CI systems read it: one test case per pair and per expectation.
    public static func junit(_ report: VerifyReport) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var cases: [String] = []
        for pair in report.pairs {
            let name = escape("\(pair.from) → \(pair.to) (\(pair.address))")
            let time = String(format: "%.6f", (pair.milliseconds ?? 0) / 1000)
            if pair.reachable {
                cases.append("    <testcase classname=\"\(escape(report.lab)).reachability\" name=\"\(name)\" time=\"\(time)\"/>")
            } else {
                cases.append("    <testcase classname=\"\(escape(report.lab)).reachability\" name=\"\(name)\" time=\"\(time)\">\n"
                             + "      <failure message=\"\(escape(pair.outcome))\">\(escape(pair.explanation ?? ""))</failure>\n    </testcase>")
            }
        }
        for result in report.expectations {
            let name = escape(result.expectation)
            if result.holds {
                cases.append("    <testcase classname=\"\(escape(report.lab)).expectations\" name=\"\(name)\"/>")
            } else {
                cases.append("    <testcase classname=\"\(escape(report.lab)).expectations\" name=\"\(name)\">\n"
                             + "      <failure message=\"\(escape(result.detail))\">\(escape(result.location)): \(escape(result.explanation ?? result.detail))</failure>\n    </testcase>")
            }
        }
        let failures = report.failedPairs + report.expectations.filter { !$0.holds }.count
        let total = report.pairs.count + report.expectations.count
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites tests="\(total)" failures="\(failures)" time="\(String(format: "%.3f", report.seconds))">
          <testsuite name="nslab verify \(escape(report.lab))" tests="\(total)" failures="\(failures)" time="\(String(format: "%.3f", report.seconds))">
        \(cases.joined(separator: "\n"))
          </testsuite>
        </testsuites>

        """
    }
}
