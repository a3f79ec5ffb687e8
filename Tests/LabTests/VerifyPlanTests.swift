import Foundation
import NetAddress
import Testing
@testable import Lab
@testable import Topology

private func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
    return address
}

/// n nodes, node i with 10.0.i.1 and (for odd i) fd00::i.
private func addresses(_ count: Int) -> [[IPAddress]] {
    (0..<count).map { i in [ip("10.0.\(i).1")] + (i % 2 == 1 ? [ip("fd00::\(i)")] : []) }
}

/// Every (source node, destination address) a plan sends, pairs only (not expectation extras).
private func pairs(_ plan: VerifyPlan) -> [String] {
    var result: [String] = []
    for (socket, initial) in plan.queues.enumerated() {
        var queue = initial
        while let entry = queue.next(plan.targets), !entry.isExtra {
            result.append("\(plan.nodes[VerifyPlan.node(ofSocket: socket)])>\(plan.targets[Int(entry.target)].destination)")
        }
    }
    return result.sorted()
}

@Suite("Pure: which pairs verify probes")
struct VerifyPlanTests {
    let nodes = (0..<6).map { "n\($0)" }

    @Test func allPairsIsEveryAddressOfEveryOtherNodeOnce() {
        let plan = VerifyPlan(nodes: nodes, addresses: addresses(6), selection: .init(), expectations: [])
        let sent = pairs(plan)
        // 6 IPv4 addresses, each probed by the 5 other nodes; 3 IPv6 ones, each by 5 too.
        #expect(sent.count == 6 * 5 + 3 * 5)
        #expect(Set(sent).count == sent.count)
        #expect(!sent.contains("n1>10.0.1.1") && !sent.contains("n1>fd00::1"))
        #expect(sent.contains("n0>fd00::1") && sent.contains("n2>10.0.5.1"))
    }

    @Test func fromAndToKeepToOneNode() {
        let from = pairs(VerifyPlan(nodes: nodes, addresses: addresses(6), selection: .init(from: 2), expectations: []))
        #expect(from.allSatisfy { $0.hasPrefix("n2>") })
        #expect(from.count == 5 + 3)
        let to = pairs(VerifyPlan(nodes: nodes, addresses: addresses(6), selection: .init(to: 3), expectations: []))
        #expect(to.count == 5 * 2)  // every other node to 10.0.3.1 and fd00::3
        #expect(to.allSatisfy { $0.hasSuffix(">10.0.3.1") || $0.hasSuffix(">fd00::3") })
        let one = pairs(VerifyPlan(nodes: nodes, addresses: addresses(6), selection: .init(from: 0, to: 5), expectations: []))
        #expect(one == ["n0>10.0.5.1", "n0>fd00::5"])
    }

    @Test func expectationsShareThePairProbeOrAddAnExtra() {
        let plan = VerifyPlan(nodes: nodes, addresses: addresses(6), selection: .init(),
                              expectations: [(0, [ip("10.0.4.1")]), (0, [ip("10.9.9.9")]), (0, [ip("10.0.0.1")]), (nil, [ip("10.0.1.1")])])
        let shared = plan.expectationTargets[0][0]
        #expect(shared.map { plan.targets[Int($0.target)].owner } == 4, "the pair's own target")
        let extra = plan.expectationTargets[1][0]
        #expect(extra.map { plan.queues[$0.socket].extra.contains($0.target) } == true)
        // Its own address is no pair of n0's: an extra too.
        #expect(plan.expectationTargets[2][0].map { plan.queues[$0.socket].extra.contains($0.target) } == true)
        #expect(plan.expectationTargets[3] == [nil], "no probing node, no probe")
        #expect(pairs(plan).count == 6 * 5 + 3 * 5, "expectations add no pairs")
    }

    @Test func samplingIsReproducibleFromItsSeed() {
        let many = (0..<200).map { "leaf\($0)" }
        let sample = DestinationSample(perNode: 7, seed: 42)
        for index in [0, 1, 100, 199] {
            let chosen = sample.destinations(from: many[index], index: index, among: many.count)
            #expect(chosen.count == 7)
            #expect(Set(chosen).count == 7 && !chosen.contains(index) && chosen.allSatisfy { (0..<200).contains($0) })
            #expect(chosen == sample.destinations(from: many[index], index: index, among: many.count))
        }
        // Another seed chooses otherwise (for at least one of these nodes; equal draws of 7 of 199 are
        // vanishingly unlikely).
        let other = DestinationSample(perNode: 7, seed: 43)
        #expect((0..<5).contains { sample.destinations(from: many[$0], index: $0, among: 200)
                                     != other.destinations(from: many[$0], index: $0, among: 200) })
        // Most of the nodes (the shuffle branch), and all of them.
        let most = DestinationSample(perNode: 150, seed: 9).destinations(from: "leaf3", index: 3, among: 200)
        #expect(Set(most).count == 150 && !most.contains(3))
        #expect(DestinationSample(perNode: 500, seed: 9).destinations(from: "leaf3", index: 3, among: 200).count == 199)
    }

    @Test func theSeedGivesTheSameNumbersEverywhere() {
        // SplitMix64's reference output for seed 0 (what replaying a run on another machine relies on).
        var generator = SplitMix64(seed: 0)
        #expect(generator.next() == 0xe220_a839_7b1d_cdaf)
        #expect(generator.next() == 0x6e78_9e6a_a1b9_65f4)
    }

    @Test func aSampledPlanProbesTheSampledNodesAddresses() {
        let sample = DestinationSample(perNode: 2, seed: 5)
        let plan = VerifyPlan(nodes: nodes, addresses: addresses(6), selection: .init(sample: sample), expectations: [])
        let sent = pairs(plan)
        for (index, node) in nodes.enumerated() {
            let chosen = sample.destinations(from: node, index: index, among: nodes.count)
            let expected = chosen.flatMap { addresses(6)[$0] }.map { "\(node)>\($0)" }
            #expect(sent.filter { $0.hasPrefix("\(node)>") } == expected.sorted())
        }
    }
}

@Suite("Pure: failed pairs grouped by cause")
struct FailureGroupingTests {
    func explanation(_ node: String?, _ cause: PathCause, reply: Bool = false) -> PathExplanation {
        let destination = ip("10.0.0.1")
        var forward = PathWalk(from: "a", source: ip("10.0.0.2"), destination: destination, hops: [])
        var back: PathWalk?
        if reply {
            forward.deliveredTo = InterfaceRef(node: "b", interface: "eth0")
            back = PathWalk(from: "b", source: destination, destination: ip("10.0.0.2"), hops: [])
            back?.problem = node.map { PathProblem(node: $0, cause: cause, detail: "broken") }
        } else {
            forward.problem = node.map { PathProblem(node: $0, cause: cause, detail: "broken") }
        }
        return PathExplanation(forward: forward, reply: back)
    }

    @Test func sameNodeAndCauseIsOneGroupBiggestFirst() {
        var grouping = FailureGrouping()
        grouping.add(explanation("r1", .noRoute, reply: true), summary: "first r1")
        for _ in 0..<998 { grouping.add(explanation("hub", .forwardingOff), summary: "hub pair") }
        grouping.add(explanation("r1", .noRoute, reply: true), summary: "second r1")
        grouping.add(explanation("hub", .noRoute), summary: "hub no route")
        let groups = grouping.sorted
        #expect(groups.map(\.pairs) == [998, 2, 1])
        #expect(groups[0].summary == "998 pairs: hub: forwarding-off")
        #expect(groups[1].summary == "2 pairs: r1: no-route (reply direction)")
        #expect(groups[1].example == "first r1", "the first pair of a group is its example")
        #expect(groups[2].summary == "1 pair: hub: no-route")
    }

    @Test func aFailureTheModelDoesNotExplainIsSaidSo() {
        var grouping = FailureGrouping()
        var works = explanation(nil, .noRoute, reply: true)
        works.reply?.deliveredTo = InterfaceRef(node: "a", interface: "eth0")
        grouping.add(works, summary: "a → 10.0.0.1: reachable")
        let group = grouping.sorted[0]
        #expect(group.cause == FailureGroup.notInModel && group.node == nil)
        #expect(group.summary.hasPrefix("1 pair: not-in-model: the routing model finds no break"))
    }
}

@Suite("Pure: verify's JSON, written a pair at a time")
struct VerifyJSONTests {
    func report(pairs: [PairResult]) -> VerifyReport {
        VerifyReport(lab: "l/ab", nodes: ["a", "b"], pairs: pairs, allPairsListed: false, probes: 7, answered: 5,
                     failedPairs: pairs.count, failureGroups: [FailureGroup(node: "hub", cause: "forwarding-off", direction: "forward",
                                                                          pairs: 2, example: "a → 10.0.0.2: é")],
                     sample: DestinationSample(perNode: 3, seed: 99), from: nil, to: "b", expectations: [], seconds: 1.5, passed: false)
    }

    @Test func sameBytesAsTheEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let failed = [PairResult(from: "a", to: "b", address: "10.0.0.2", reachable: false, milliseconds: nil, outcome: "no reply",
                                 explanation: "a → 10.0.0.2: \"quoted\" / slashed"),
                      PairResult(from: "b", to: "a", address: "fd00::1", reachable: true, milliseconds: 0.25, outcome: "reply", explanation: nil)]
        // More than one chunk of 4,096 pairs, too.
        let many = (0..<4100).map { failed[$0 % 2] }
        for pairs in [[], Array(failed.prefix(1)), failed, many] {
            var written = ""
            try Verifier.writeJSON(report(pairs: pairs)) { written += $0 }
            #expect(written == String(decoding: try encoder.encode(report(pairs: pairs)), as: UTF8.self), "\(pairs.count) pairs")
        }
    }
}
