import Foundation
import Testing
@testable import Lab
import Topology

/// `kind: bridge` in the kernel: a Linux bridge whose ports are the link ends, hosts on it
/// reaching each other without any route, and a second LAN through a router.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct BridgeLabTests {
    @Test func hostsOnOneBridgeReachEachOtherWithoutRoutes() throws {
        let lab = TestLab("br")
        defer { lab.cleanUp() }
        _ = try lab.deploy("""
            nodes: { sw: { kind: bridge }, a: , b: , c: }
            links:
              - { endpoints: [a, sw], addresses: [10.3.0.1/24, ~] }
              - { endpoints: [b, sw], addresses: [10.3.0.2/24, ~] }
              - { endpoints: [c, sw], addresses: [10.3.0.3/24, ~] }

            """)
        let bridge = sh("ip -n \(lab.namespace("sw")) -d link show br0").output
        #expect(bridge.contains("bridge ") && bridge.contains("stp_state 0") && bridge.contains("state UP"), "\(bridge)")
        #expect(sh("ip -n \(lab.namespace("sw")) link show master br0").output.components(separatedBy: "master br0").count - 1 == 3)
        for (from, to) in [("a", "10.3.0.2"), ("a", "10.3.0.3"), ("c", "10.3.0.1"), ("b", "c")] {
            #expect(lab.exec(from, "ping -c 1 -W 2 \(to)").status == 0, "\(from) → \(to)")
        }
        #expect(sh("ip -n \(lab.namespace("a")) route").output.split(separator: "\n").count == 1)  // the connected one only
        let state = try LabInspector.inspect(lab: lab.name)
        let ports = state.nodes.first { $0.name == "sw" }?.interfaces.filter { $0.master == "br0" }.map(\.name)
        #expect(ports == ["eth0", "eth1", "eth2"])
    }

    @Test func theLanExampleVerifiesAndExplainsAcrossTheSwitches() throws {
        let lab = TestLab("lanex")
        defer { lab.cleanUp() }
        _ = try lab.deploy(exampleBody("lan.yaml"))
        let verify = sh("\(nslabBinary) verify \(lab.name)")
        #expect(verify.status == 0 && verify.output.contains("PASS"), "\(verify.output)")
        let explain = sh("\(nslabBinary) explain --lab \(lab.name) a1 b2")
        #expect(explain.status == 0 && explain.output.contains("reachable (forward a1 → gw → b2, reply b2 → gw → a1)"), "\(explain.output)")
        #expect(lab.exec("a1", "ping -c 1 -W 2 10.2.0.2").status == 0)
    }
}
