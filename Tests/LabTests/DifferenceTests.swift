import Foundation
import Testing
@testable import Lab
import Topology

/// The plan of a lab that is not deployed is the whole deploy, in the order converging carries
/// it out, each change on its line as `diff` prints it (pure: no kernel).
struct DifferenceTests {
    static let text = """
        name: plan
        nodes:
          a: { routes: [default via 10.1.0.2], commands: [[sleep, "5"]] }
          r: { kind: router }
          s: { kind: bridge }
          b: { routes: ["default via 10.2.0.2 metric 5"] }
        links:
          - { endpoints: [a:eth0, r:ra], addresses: [10.1.0.1/24, 10.1.0.2/24], mtu: 1400, state: down }
          - { endpoints: [r:rb, s:p1], addresses: [10.2.0.2/24, ~] }
          - { endpoints: [b:eth0, s:p2], addresses: [10.2.0.1/24, ~], impair: { rate: 10mbit } }

        """

    func lines() throws -> [String] {
        let plan = LabPlan(try Topology.parse(yaml: Self.text, file: "plan.yaml"))
        return LabDifference.compute(plan: plan, observed: .empty(lab: "plan"), previous: nil, prune: false).changes.map(\.line)
    }

    @Test func everythingIsAddedInTheOrderItIsMade() throws {
        let lines = try lines()
        func position(_ line: String) throws -> Int { try #require(lines.firstIndex(of: line), "no \(line) in \(lines)") }
        #expect(Array(lines.prefix(4)) == ["+ node a (host)", "+ node r (router)", "+ node s (bridge)", "+ node b (host)"])
        let bridge = try position("+ interface s:br0 (bridge, stp off)")
        let link = try position("+ link a:eth0 -- r:ra")
        let address = try position("+ address 10.1.0.1/24 on a:eth0")
        let route = try position("+ route default via 10.2.0.2 metric 5 on b")
        let down = try position("~ link a:eth0 state up → down")
        let file = try position("+ file a:/etc/hosts")
        let command = try position("+ command a: sleep 5")
        #expect(bridge < link && link < address && address < route && route < down && down < file && file < command)
        #expect(lines.contains("~ link b:eth0 impairment none → rate=10mbit"))
        // A link declared down has no route through it once it is down (the kernel drops them,
        // after a fresh deploy too): a's default route is not part of the lab.
        #expect(!lines.contains { $0.contains("route default via 10.1.0.2") }, "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("-") })
    }

    @Test func theJSONRecordsSayWhatChanges() throws {
        let plan = LabPlan(try Topology.parse(yaml: Self.text, file: "plan.yaml"))
        let records = LabDifference.compute(plan: plan, observed: .empty(lab: "plan"), previous: nil, prune: false).records
        #expect(records.first == ChangeRecord(operation: .add, object: "node", node: "a", text: "node a (host)"))
        #expect(records.contains(ChangeRecord(operation: .change, object: "link", node: "a", text: "link a:eth0 state up → down")))
        #expect(records.allSatisfy { !$0.foreign })
    }

    @Test func commandsAreWrittenAsAShellWouldTakeThemBack() {
        #expect(commandText(["/bin/sh", "-c", "echo hi | cat"]) == "echo hi | cat")
        #expect(commandText(["printf", "a b", "it's"]) == "printf 'a b' 'it'\\''s'")
    }
}
