import Foundation
import Testing
@testable import Lab
import NetAddress
import Topology

/// A star of `leaves` hosts around a router, one /30 per leaf, every leaf a default route to it.
func smallStarBody(leaves: Int) -> String {
    var lines = ["nodes:", "  hub: { kind: router }"]
    for leaf in 1...leaves { lines.append("  leaf\(leaf): { routes: [default via 10.0.\(leaf).1] }") }
    lines.append("links:")
    for leaf in 1...leaves {
        lines.append("  - { endpoints: [hub:h\(leaf), leaf\(leaf):eth0], addresses: [10.0.\(leaf).1/30, 10.0.\(leaf).2/30] }")
    }
    return lines.joined(separator: "\n") + "\n"
}

@Suite("Kernel: verify groups failures, samples, keeps to --from/--to", .serialized)
struct VerifyGroupingTests {
    /// Six leaves: 6 × 5 leaf-to-leaf pairs, 6 × 6 leaf-to-hub addresses, 6 hub-to-leaf.
    static let leaves = 6

    func withStar(_ base: String, _ body: (TestLab) throws -> Void) throws {
        let lab = TestLab(base)
        defer { lab.cleanUp() }
        _ = try lab.deploy(smallStarBody(leaves: Self.leaves))
        try body(lab)
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func hubForwardingOffIsOneGroupOfEveryLeafToLeafPair() throws {
        try withStar("sclgroup") { lab in
            let off = lab.exec("hub", "sysctl -qw net.ipv4.ip_forward=0")
            try #require(off.status == 0, "\(off.output)")
            let report = try Verifier.verify(lab: lab.name, options: VerifyOptions(timeout: 0.2))
            #expect(!report.passed)
            #expect(report.probes == 30 + 36 + 6)
            #expect(report.failedPairs == 30 && report.answered == 42)
            #expect(report.allPairsListed && report.pairs.count == report.probes)
            let group = try #require(report.failureGroups.first)
            #expect(report.failureGroups.count == 1, "\(report.failureGroups)")
            #expect(group.summary == "30 pairs: hub: forwarding-off")
            #expect(group.example.contains("forwarding is off on hub"))
            // Every failed pair keeps its own explanation.
            #expect(report.pairs.filter { !$0.reachable }.allSatisfy { $0.explanation?.contains("forwarding is off on hub") == true })

            // A listing limit below the probe count: failures listed, answers only counted.
            let counted = try Verifier.verify(lab: lab.name, options: VerifyOptions(timeout: 0.2, listingLimit: 10))
            #expect(!counted.allPairsListed && counted.pairs.count == 30 && counted.answered == 42)
            #expect(counted.pairs.allSatisfy { !$0.reachable })
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(counted)) as? [String: Any]
            let groups = json?["failureGroups"] as? [[String: Any]]
            #expect(groups?.first?["pairs"] as? Int == 30 && groups?.first?["cause"] as? String == "forwarding-off")
            #expect(json?["probes"] as? Int == 72)
            // Fewer failures listed than failed: all still counted and grouped.
            let few = try Verifier.verify(lab: lab.name, options: VerifyOptions(timeout: 0.2, listingLimit: 10, failuresListed: 5))
            #expect(few.pairs.count == 5 && few.failedPairs == 30 && few.failureGroups.map(\.pairs) == [30])
            // JUnit: the failures one by one, the answers as one passing case.
            let junit = Verifier.junit(counted)
            #expect(junit.contains("tests=\"31\" failures=\"30\"") && junit.contains("42 other pairs answered"))
        }
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func fromToAndSampleChooseThePairs() throws {
        try withStar("sclpick") { lab in
            let from = try Verifier.verify(lab: lab.name, options: VerifyOptions(from: "leaf1"))
            #expect(from.passed && from.probes == 5 + 6)
            #expect(from.pairs.allSatisfy { $0.from == "leaf1" })
            let to = try Verifier.verify(lab: lab.name, options: VerifyOptions(to: "leaf2"))
            #expect(to.passed && to.probes == 6)
            #expect(to.pairs.allSatisfy { $0.to == "leaf2" && $0.address == "10.0.2.2" })
            let one = try Verifier.verify(lab: lab.name, options: VerifyOptions(from: "hub", to: "leaf3"))
            #expect(one.pairs.map { "\($0.from)>\($0.address)" } == ["hub>10.0.3.2"])

            let sample = DestinationSample(perNode: 2, seed: 1234)
            let first = try Verifier.verify(lab: lab.name, options: VerifyOptions(sample: sample))
            let again = try Verifier.verify(lab: lab.name, options: VerifyOptions(sample: sample))
            #expect(first.passed && first.sample == sample)
            #expect(first.pairs.map { "\($0.from)>\($0.to)" } == again.pairs.map { "\($0.from)>\($0.to)" }, "the seed replays the run")
            // Each node probed two other nodes: Set of destination nodes per source has 2 members.
            for node in first.nodes {
                #expect(Set(first.pairs.filter { $0.from == node }.map(\.to)).count == 2, "\(node)")
            }

            #expect {
                _ = try Verifier.verify(lab: lab.name, options: VerifyOptions(from: "leaf9"))
            } throws: { error in
                guard let error = error as? ProbeError, case .badSelection = error else { return false }
                return error.exitCode == 2 && "\(error)".contains("--from leaf9: lab \(lab.name) has no node leaf9")
            }
        }
    }
}
