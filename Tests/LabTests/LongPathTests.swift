import Foundation
import Testing
@testable import Lab
import Topology

/// A chain longer than the kernel's default TTL, deployed. Left to deploy, every node sends with
/// TTL 255 and every pair answers. With `ttl: 64` (the kernel's default), verify probes with TTL
/// 255, so what stops the far pairs is the reply, and the path model says so (ttl-exceeded,
/// reply direction) rather than finding no break; explain with a small TTL names where it runs
/// out, and the real echo agrees.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct LongPathTests {
    @Test func pathsLongerThanTheTTLAreExplainedAsSuch() throws {
        let lab = TestLab("ttl")
        defer { lab.cleanUp() }
        // n1 and n70 are hosts at the ends; n1 → n70 is 69 hops.
        var topology = try GeneratedShape.chain(nodes: 70).topology(name: lab.name, prefix: lab.prefix)
        var text = YAMLWriter.yaml(of: topology)
        #expect(LabDeployer.ttlNote(try Topology.parse(yaml: text, file: "\(lab.name).yaml"))?.contains("paths of 69 links") == true)
        _ = try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(lab.name).yaml"), sourceText: text)
        let n70 = lab.namespace("n70")
        #expect(sh("ip netns exec \(n70) cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/net/ipv6/conf/eth0/hop_limit "
                   + "/proc/sys/net/ipv6/conf/default/hop_limit").output == "255\n255\n255\n")
        var everyPair = VerifyOptions()
        everyPair.from = "n1"
        let passing = try Verifier.verify(lab: lab.name, options: everyPair)
        #expect(passing.pairs.count > 130 && passing.pairs.allSatisfy(\.reachable), "\(passing.failureGroups.map(\.summary))")
        #expect(try Explainer.explain(lab: lab.name, from: "n1", to: "n70", ttl: 255).observedReply)

        // Back to the kernel's default: every node changes, in place.
        topology.ttl = 64
        text = YAMLWriter.yaml(of: topology)
        let converged = try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(lab.name).yaml"), sourceText: text)
        let lines = converged.converged?.difference.changes.map(\.line) ?? []
        #expect(lines.count == 70 && lines.contains("~ node n70 ttl 255 → 64"), "\(lines)")
        #expect(try LabConverger.difference(try Topology.parse(yaml: text, file: "\(lab.name).yaml")).isEmpty)
        #expect(sh("ip netns exec \(n70) cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/net/ipv6/conf/eth0/hop_limit").output == "64\n64\n")
        // Changed by hand, IPv4's alone: seen (it has no netlink attribute) and named.
        sh("ip netns exec \(lab.namespace("n5")) sh -c 'echo 100 > /proc/sys/net/ipv4/ip_default_ttl'")
        let drift = try LabConverger.difference(try Topology.parse(yaml: text, file: "\(lab.name).yaml")).changes.map(\.line)
        #expect(drift == ["~ node n5 ttl 100 → 64"], "\(drift)")
        _ = try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(lab.name).yaml"), sourceText: text)

        let report = try Verifier.verify(lab: lab.name, options: everyPair)
        // n1's address is on link 1; nX's first address (on link X-1) is X-1 hops away, its
        // second X hops: up to n65's first (64 hops) the replies arrive.
        let failed = report.pairs.filter { !$0.reachable }
        #expect(!failed.isEmpty && report.pairs.contains { $0.reachable && $0.to == "n65" })
        #expect(failed.allSatisfy { Int($0.to.dropFirst())! >= 65 }, "\(failed.map(\.to))")
        #expect(report.failureGroups.map(\.cause) == ["ttl-exceeded"], "\(report.failureGroups.map(\.summary))")
        #expect(report.failureGroups.first?.direction == "reply")
        #expect(report.failureGroups.first?.pairs == failed.count)

        // To n70 the request arrives with TTL 255 and the reply, sent with 64, expires.
        let far = try Explainer.explain(lab: lab.name, from: "n1", to: "n70", ttl: 255)
        #expect(far.explanation.brokenDirection == .reply && far.explanation.problem?.cause == .ttlExceeded)
        #expect(far.explanation.problem?.detail.contains("is 69 hops, more than the TTL 64 the packet left n70 with") == true,
                "\(far.explanation.problem?.detail ?? "-")")
        #expect(!far.observedReply && far.agrees)

        // A request with TTL 5 runs out at n6, which drops what arrives with TTL 1.
        let short = try Explainer.explain(lab: lab.name, from: "n1", to: "n10", ttl: 5)
        #expect(short.explanation.brokenDirection == .forward && short.explanation.problem?.node == "n6")
        #expect(short.explanation.problem?.cause == .ttlExceeded)
        #expect(!short.observedReply && short.agrees, "\(short.observed)")
        #expect(try Explainer.explain(lab: lab.name, from: "n1", to: "n10", ttl: 64).observedReply)
    }
}
