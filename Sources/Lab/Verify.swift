import Foundation
import NetAddress
import Namespaces
import Netlink
import Synchronization
import Topology

/// Probes finished so far, over the probing threads.
final class ProbeCounter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}

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
    /// Every pair probed when there were at most `VerifyOptions.listingLimit` probes (then
    /// `allPairsListed`); in bigger runs only the pairs that failed (up to
    /// `VerifyOptions.failuresListed`), the others being counted.
    public var pairs: [PairResult]
    public var allPairsListed: Bool
    /// Pair probes sent, answered, failed (expectations' own probes not counted).
    public var probes: Int
    public var answered: Int
    public var failedPairs: Int
    /// The failed pairs by where and why they break, the biggest group first.
    public var failureGroups: [FailureGroup]
    /// `--sample`: destinations per node and the seed that replays them.
    public var sample: DestinationSample?
    /// `--from` / `--to`: the only source or destination node probed.
    public var from: String?
    public var to: String?
    public var expectations: [ExpectationResult]
    public var seconds: Double
    /// All expectations hold, or (without expectations) every pair answers.
    public var passed: Bool

}

public struct VerifyOptions: Sendable {
    /// Per attempt; a probe is tried twice before it counts as lost.
    public var timeout: Double = 0.5
    public var skipPairs = false
    /// K random destination nodes per node instead of all of them.
    public var sample: DestinationSample?
    /// Only probe from this node, or only to this node.
    public var from: String?
    public var to: String?
    /// Above this many probes, answered pairs are counted rather than listed: a 1,000-leaf star
    /// sends 2,000,000, and a listed result for each took about 1 GiB.
    public var listingLimit = 20_000
    /// In a run above the listing limit, how many failed pairs are listed (each with its
    /// explanation, the first in pair order); the others are counted in their groups. The text
    /// view shows 30: keeping a million explained failures for it cost hundreds of MiB.
    public var failuresListed = Int.max
    /// Stages of the run, for a person watching a big lab being verified.
    public var progress: @Sendable (ProgressStep) -> Void = { _ in }

    public init(timeout: Double = 0.5, skipPairs: Bool = false, sample: DestinationSample? = nil, from: String? = nil,
                to: String? = nil, listingLimit: Int = 20_000, failuresListed: Int = .max) {
        self.timeout = timeout; self.skipPairs = skipPairs; self.sample = sample; self.from = from; self.to = to
        self.listingLimit = listingLimit; self.failuresListed = failuresListed
    }
}

public enum Verifier {
    /// Raw sockets open at once, whatever the lab's size (ProbeSockets): a node's sockets are
    /// opened when its turn comes and closed when its probes are done. Fewer when the open-file
    /// limit leaves less room (at least 8).
    static let socketsOpenAtOnce = 256

    /// Probes every node to every address of every other node (or the sample, or the pairs
    /// from or to one node), all at once (one socket per node and family, many probes in
    /// flight), and checks the expectations of `topology` (the file given on the command line)
    /// or of the lab's saved topology.
    public static func verify(lab: String, topology given: Topology? = nil, options: VerifyOptions = VerifyOptions()) throws -> VerifyReport {
        let started = monotonicSeconds()
        options.progress("reading lab \(lab)")
        let network = try LabNetwork.read(lab: lab)
        let expectations = (given ?? network.topology)?.expectations ?? []
        // Bridges are switches: no address to send from or to, nothing to verify of their own.
        let local = network.observed.nodes.filter { $0.present && !$0.isSwitch }.map(\.name)
        // A spread lab's nodes on other machines are probed from here; their machines probe from them.
        let remote = (network.topology?.remoteNodes ?? []).filter { $0.kind != .bridge }.map(\.name)
        let nodes = local + remote
        let nodeIndexes = Dictionary(nodes.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        /// `among`: the nodes that may be named (a sender must be a node of this machine).
        func selected(_ name: String?, _ flag: String, among allowed: Range<Int>) throws -> Int? {
            guard let name else { return nil }
            if let index = nodeIndexes[name], allowed.contains(index) { return index }
            throw ProbeError.badSelection(flag: flag, node: name, lab: network.lab, nodes: nodes,
                                          isSwitch: network.observed.nodes.contains { $0.name == name })
        }
        let selection = VerifyPlan.Selection(pairs: !options.skipPairs, sample: options.sample,
                                             from: try selected(options.from, "--from", among: local.indices),
                                             to: try selected(options.to, "--to", among: nodes.indices),
                                             senders: remote.isEmpty ? nil : 0..<local.count)
        var expectationTargets: [[IPAddress]] = []
        for expectation in expectations {
            switch expectation.target {
            case .node(let node): expectationTargets.append(network.addresses(of: node))
            case .interface(let node, let interface): expectationTargets.append(network.addresses(of: node, interface: interface))
            case .address(let address): expectationTargets.append([address])
            }
        }
        let addresses = network.addressesOfEveryNode()
        let plan = VerifyPlan(nodes: nodes, addresses: nodes.map { addresses[$0] ?? [] }, selection: selection,
                              expectations: zip(expectations, expectationTargets).map { (nodeIndexes[$0.from], $1) })

        // Sockets: only those with something to send (one node's with --from), each opened inside
        // its node when its turn comes, a bounded number at once (ProbeSockets).
        let openAtOnce = try ResourceLimits.share(wanted: socketsOpenAtOnce, least: 8, for: "verifying \(counted(nodes.count, "node"))")
        let planSocket = plan.queues.indices.filter { plan.queues[$0].load > 0 }  // engine socket index → plan socket index
        let namespaces = Dictionary(network.observed.nodes.map { ($0.name, $0.namespace) }, uniquingKeysWith: { first, _ in first })
        /// Inside its node, on the calling thread (a NamespaceThread worker).
        func openSocket(_ socket: Int) throws -> ICMPSocket {
            let name = nodes[VerifyPlan.node(ofSocket: socket)]
            do {
                try NetworkNamespace.open(namespaces[name] ?? name).enter()
                return try ICMPSocket(family: VerifyPlan.families[socket % VerifyPlan.families.count])
            } catch let error as SystemCallError {
                throw ProbeError.socket(node: name, error)
            }
        }

        let probing = "probing: \(counted(plan.probeCount, "probe"))"
        options.progress(.stage(probing))
        // A count every 1 % (and at the end), for the bar with its rate and the time left.
        let done = ProbeCounter()
        let every = max(1, plan.probeCount / 100)
        let listAll = plan.probeCount <= options.listingLimit
        let tallies = try ProbeEngine.runSplit(
            sockets: ProbeSockets(count: planSocket.count, openAtOnce: openAtOnce) { try openSocket(planSocket[$0]) },
            targets: plan.targets, queues: planSocket.map { plan.queues[$0] }, timeout: options.timeout,
            retries: 1, threads: 2, start: { VerifyTally() },
            record: { tally, outcome in
                let probe = VerifyPlan.SocketTarget(socket: planSocket[outcome.socket], target: outcome.target)
                if !plan.expectationProbes.isEmpty, plan.expectationProbes.contains(probe) {
                    tally.expectationReplies[probe] = outcome.reply
                }
                if outcome.isExtra { return }
                let count = done.increment()
                if count % every == 0 || count == plan.probeCount {
                    options.progress(.count(stage: probing, done: count, total: plan.probeCount))
                }
                if outcome.reply.isEcho {
                    tally.answered += 1
                    if listAll { tally.answers.append(VerifyTally.Finished(probe: probe, reply: outcome.reply)) }
                } else {
                    tally.failures.append(VerifyTally.Finished(probe: probe, reply: outcome.reply))
                }
            })
        var answeredCount = 0
        var finished: [VerifyTally.Finished] = []
        var failures: [VerifyTally.Finished] = []
        var expectationReplies: [VerifyPlan.SocketTarget: ProbeReply] = [:]
        for tally in tallies {
            answeredCount += tally.answered
            finished += tally.answers
            failures += tally.failures
            expectationReplies.merge(tally.expectationReplies) { first, _ in first }
        }
        // Pairs in the order they always were: by source, then destination node, then address.
        func order(_ a: VerifyTally.Finished, _ b: VerifyTally.Finished) -> Bool {
            let (x, y) = (plan.targets[Int(a.probe.target)], plan.targets[Int(b.probe.target)])
            return (VerifyPlan.node(ofSocket: a.probe.socket), x.owner, a.probe.target)
                < (VerifyPlan.node(ofSocket: b.probe.socket), y.owner, b.probe.target)
        }
        failures.sort(by: order)

        // The model is built once (layer 2, indexes by name and address) and every failure is
        // walked through it: cheap per walk, so a lab whose every probe fails is explained in
        // time in proportion to its failures.
        // Built only when a pair fails or an expectation needs it: a run that passes at 10,000
        // nodes peaked at 98 MiB of heap while building it for nothing.
        lazy var model = network.model()
        var grouping = FailureGrouping()
        func result(_ done: VerifyTally.Finished) -> PairResult {
            let target = plan.targets[Int(done.probe.target)]
            let from = nodes[VerifyPlan.node(ofSocket: done.probe.socket)]
            var pair = PairResult(from: from, to: nodes[Int(target.owner)], address: target.destination.description,
                                  reachable: done.reply.isEcho, milliseconds: done.reply.isEcho ? done.reply.seconds.map { $0 * 1000 } : nil,
                                  outcome: Explainer.describe(done.reply, network: network), explanation: nil)
            if !done.reply.isEcho {
                let explanation = model.explain(from: from, to: target.destination, ttl: VerifyPlan.probeTTL)
                let summary = explanation.summary
                grouping.add(explanation, summary: summary)
                pair.explanation = summary
            }
            return pair
        }
        var pairs: [PairResult]
        if listAll {
            finished += failures
            finished.sort(by: order)
            pairs = finished.map(result)
        } else {
            pairs = []
            for failure in failures {
                if pairs.count < options.failuresListed {
                    pairs.append(result(failure))
                } else {
                    let explanation = model.explain(from: nodes[VerifyPlan.node(ofSocket: failure.probe.socket)],
                                                    to: plan.targets[Int(failure.probe.target)].destination,
                                                    ttl: VerifyPlan.probeTTL)
                    grouping.add(explanation, summary: explanation.summary)
                }
            }
        }
        let failedCount = listAll ? pairs.count(where: { !$0.reachable }) : failures.count
        finished = []
        failures = []

        // Paths for "via": one trace per (source, first address of the target), all at once.
        // (From the socket that probed the first address: an expectation from a node that cannot
        // probe has none, and fails before its path matters.) Only those sockets are opened again.
        func traceSocket(_ expectation: Int) -> Int? {
            plan.expectationTargets[expectation].first.flatMap { $0 }.map(\.socket)
        }
        let traced = expectations.indices.filter { !expectations[$0].via.isEmpty && traceSocket($0) != nil }
        let traceOptions = TraceOptions(maxHops: 16, queries: 1, timeout: options.timeout * 2)
        let traceDestinations = traced.map { expectationTargets[$0][0] }
        let tracing = Array(Set(traced.compactMap(traceSocket))).sorted()
        let traceSockets = try NamespaceThread.forEach(tracing, threads: 2, openSocket)
        let tracingIndex = Dictionary(uniqueKeysWithValues: tracing.enumerated().map { ($1, $0) })
        let paths = traced.isEmpty ? [] : Tracer.trace(network: network, sockets: traceSockets, traces: traceDestinations, socketFor: { i in
            traceSocket(traced[i]).flatMap { tracingIndex[$0] } ?? 0
        }, options: traceOptions)

        func explain(_ from: String, _ address: IPAddress) -> String {
            model.explain(from: from, to: address, ttl: VerifyPlan.probeTTL).summary
        }
        var results: [ExpectationResult] = []
        for (index, expectation) in expectations.enumerated() {
            let addresses = expectationTargets[index]
            let probes = plan.expectationTargets[index]
            let answered = addresses.indices.filter { probes[$0].flatMap { expectationReplies[$0] }?.isEcho == true }
                .map { addresses[$0] }
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
                    explanation = model.explain(from: expectation.from, to: first, ttl: VerifyPlan.probeTTL).summary
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
        let passed = expectations.isEmpty ? failedCount == 0 : results.allSatisfy(\.holds)
        return VerifyReport(lab: network.lab, nodes: nodes, pairs: pairs, allPairsListed: listAll,
                            probes: answeredCount + failedCount, answered: answeredCount, failedPairs: failedCount,
                            failureGroups: grouping.sorted, sample: options.sample, from: options.from, to: options.to,
                            expectations: results, seconds: monotonicSeconds() - started, passed: passed)
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
        if !report.allPairsListed, report.answered > 0 {
            // A big run lists only its failures: the pairs that answered are one passing case.
            cases.append("    <testcase classname=\"\(escape(report.lab)).reachability\" name=\"\(report.answered) other pairs answered\"/>")
        }
        let failures = report.failedPairs + report.expectations.filter { !$0.holds }.count
        let total = cases.count
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

/// What one probing thread saw: answered pairs counted (and kept only when they are all
/// listed), failed ones kept to be explained, expectation probes' replies.
struct VerifyTally {
    struct Finished {
        var probe: VerifyPlan.SocketTarget
        var reply: ProbeReply
    }
    var answered = 0
    var answers: [Finished] = []
    var failures: [Finished] = []
    var expectationReplies: [VerifyPlan.SocketTarget: ProbeReply] = [:]
}
