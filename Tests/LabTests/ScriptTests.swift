import CShims
import Foundation
import Testing
@testable import Lab
import Topology

/// `nslab script`'s commands, run by sh, build the same lab as `nslab deploy`: every node's
/// kernel state compared field by field, and the /etc/netns files byte for byte.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct ScriptTests {
    static let body = """
        nodes:
          a: { routes: ["default via 10.1.0.2", "default via fd00:1::2"] }
          r: { kind: router }
          b: { routes: [default via 10.2.0.2, "fd00:1::/64 via fd00:2::2 metric 50"], files: { hosts: "127.0.1.1 b\\n" } }
        links:
          - endpoints: [a:eth0, { node: r, interface: "up-1", mtu: 1400, mac: "02:00:00:00:0a:01" }]
            addresses: [[10.1.0.1/24, "fd00:1::1/64"], [10.1.0.2/24, "fd00:1::2/64"]]
          - { endpoints: [b, r], addresses: [[10.2.0.1/24, "fd00:2::1/64"], [10.2.0.2/24, "fd00:2::2/64"]], mtu: 9000 }

        """

    /// Switches: one with spanning tree, hosts on both, a router between.
    static let switches = """
        nodes: { sw1: { kind: bridge, stp: true }, sw2: { kind: bridge }, a: , b: , r: { kind: router } }
        links:
          - { endpoints: [a, sw1], addresses: [10.3.0.1/24, ~] }
          - { endpoints: [r, sw1], addresses: [10.3.0.254/24, ~] }
          - { endpoints: [r, sw2], addresses: [10.4.0.254/24, ~] }
          - { endpoints: [b, sw2], addresses: [10.4.0.1/24, ~] }

        """

    @Test func scriptBuildsWhatDeployBuilds() throws {
        try compare(Self.body, nodes: ["a", "r", "b"])
    }

    /// `ttl:`: both set each node's IPv4 default and IPv6 hop limit before its links exist.
    @Test func scriptSetsTheTTLAsDeployDoes() throws {
        try compare("ttl: 100\n" + Self.body, nodes: ["a", "r", "b"], ttl: 100)
    }

    @Test func scriptBuildsSwitchesAsDeployDoes() throws {
        try compare(Self.switches, nodes: ["sw1", "sw2", "a", "b", "r"])
    }

    /// examples/vlan-trunk.yaml: VLAN-filtering bridges, access and trunk ports, sub-interfaces.
    @Test(.enabled(if: kernelHasVLANs, "this kernel has no 802.1Q VLANs (CONFIG_VLAN_8021Q)"))
    func scriptBuildsVLANsAsDeployDoes() throws {
        try compare(exampleBody("vlan-trunk.yaml"), nodes: ["sw1", "sw2", "gw", "a10", "b20", "d2"])
    }

    /// Deploys `body`, runs the script of the same topology under another prefix, and compares
    /// the two labs' kernel state node by node and their /etc/netns files.
    func compare(_ body: String, nodes: [String], ttl: Int = 64) throws {
        let lab = TestLab("script")
        let handPrefix = lab.prefix + "s-"
        let giveBackEtcNetns = borrowEtcNetns()
        defer {
            lab.cleanUp()
            sh("rm -rf /etc/netns/\(lab.prefix)*")
            giveBackEtcNetns()
        }
        _ = try lab.deploy(body)

        let handTopology = try Topology.parse(yaml: "name: \(lab.name)\nprefix: \(handPrefix)\n" + body, file: "script.yaml")
        let script = LabScript.text(for: handTopology)
        let path = "/tmp/\(lab.name).sh"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let run = sh("sh \(path)")
        try #require(run.status == 0, "\(run.output)\n\(script)")

        for node in nodes {
            // The kernel reports a veth's carrier up to a second late when its index equals its
            // peer's, which `ip link add` by hand can produce: give the typed lab that second.
            var deployed = SeedComparisonTests.state(of: lab.namespace(node))
            var typed = SeedComparisonTests.state(of: handPrefix + node)
            for _ in 0..<20 where deployed != typed {
                usleep(100_000)
                deployed = SeedComparisonTests.state(of: lab.namespace(node))
                typed = SeedComparisonTests.state(of: handPrefix + node)
            }
            #expect(deployed.count > 4)
            #expect(deployed == typed, """
                \(node) differs
                only deploy: \(deployed.filter { !typed.contains($0) })
                only script: \(typed.filter { !deployed.contains($0) })
                """)
            let ttls = "cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/net/ipv6/conf/default/hop_limit /proc/sys/net/ipv6/conf/eth0/hop_limit"
            // The interface names of `body`, the lab the TTL is checked on.
            let eth = node == "r" ? "up-1" : "eth0"
            for namespace in [lab.namespace(node), handPrefix + node] where body.hasSuffix(Self.body) {
                #expect(sh("ip netns exec \(namespace) \(ttls.replacingOccurrences(of: "eth0", with: eth))").output
                        == "\(ttl)\n\(ttl)\n\(ttl)\n", "\(namespace)")
            }
            for file in ["hosts", "resolv.conf"] {
                let fromDeploy = try? String(contentsOfFile: "/etc/netns/\(lab.namespace(node))/\(file)", encoding: .utf8)
                let fromScript = try? String(contentsOfFile: "/etc/netns/\(handPrefix + node)/\(file)", encoding: .utf8)
                #expect(fromDeploy == fromScript, "\(node) \(file)")
            }
        }
        guard body == Self.body else { return }
        // And it works: a reaches b over IPv6 through r, with the names the script wrote.
        #expect(lab.exec("a", "ping -c 1 -W 2 fd00:2::1").status == 0)
        #expect(sh("ip netns exec \(handPrefix)a ping -c 1 -W 2 b").status == 0)
        #expect(sh("ip netns exec \(handPrefix)a ping -6 -c 1 -W 2 fd00:2::1").status == 0)
    }

    @Test func shellWordsAreQuotedOnlyWhenNeeded() {
        #expect(LabScript.shellWord("ns01-veth0") == "ns01-veth0")
        #expect(LabScript.shellWord("a b") == "'a b'")
        #expect(LabScript.shellWord("it's") == "'it'\\''s'")
        #expect(LabScript.shellWord("") == "''")
    }
}
