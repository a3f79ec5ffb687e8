import Foundation
import Testing
@testable import Lab
import NetAddress
import Topology

/// Whether this kernel builds 802.1Q sub-interfaces and VLAN-filtering bridges, tried in a
/// throwaway namespace: some kernels (this project's microVM one) are built without
/// CONFIG_VLAN_8021Q, and then VLANs can only be refused, not tested.
let kernelHasVLANs: Bool = {
    guard isRoot else { return false }
    let probe = TestLab("vlanprobe").namespace("probe")
    defer { sh("ip netns delete \(probe) 2>/dev/null") }
    return sh("ip netns add \(probe) && ip -n \(probe) link add p type veth peer name q"
              + " && ip -n \(probe) link add link p name p.10 type vlan id 10"
              // `name`: a bare `b` would be read as `broadcast` ("type" is invalid lladdr).
              + " && ip -n \(probe) link add name b type bridge vlan_filtering 1").status == 0
}()

/// Switches in the kernel beyond plain bridges: STP, VLANs (access and trunk ports, 802.1Q
/// sub-interfaces, a router on a stick), and labs whose every address and route is chosen by
/// nslab, bridged segments included.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct Layer2LabTests {
    /// Every global address the kernel has, by node:interface, in a stable order.
    static func addresses(_ lab: TestLab) throws -> [String] {
        try LabInspector.inspect(lab: lab.name).nodes.flatMap { node in
            node.interfaces.flatMap { interface in
                interface.addresses.filter { !$0.hasPrefix("fe80:") && !$0.hasPrefix("127.") && $0 != "::1/128" }
                    .map { "\(node.name):\(interface.name) \($0)" }
            }
        }.sorted()
    }

    /// The first address of `family` on `node`, as the kernel has it.
    static func address(_ lab: TestLab, _ node: String, ipv6: Bool = false) throws -> String {
        let all = try addresses(lab).filter { $0.hasPrefix("\(node):") }.map { String($0.split(separator: " ")[1]) }
        let found = try #require(all.first { $0.contains(":") == ipv6 }, "\(node) has no \(ipv6 ? "IPv6" : "IPv4") address")
        return String(found.split(separator: "/")[0])
    }

    func nslab(_ lab: TestLab, _ arguments: String) -> (status: Int32, output: String) {
        sh("\(nslabBinary) \(arguments.replacingOccurrences(of: "LAB", with: lab.name)) 2>&1")
    }

    @Test func stpOnIsInTheKernelAndExplainSaysWhyPortsDoNotForwardYet() throws {
        let lab = TestLab("stp")
        defer { lab.cleanUp() }
        _ = try lab.deploy("""
            nodes: { sw: { kind: bridge, stp: true }, a: , b: }
            links:
              - { endpoints: [a, sw], addresses: [10.8.0.1/24, ~] }
              - { endpoints: [b, sw], addresses: [10.8.0.2/24, ~] }

            """)
        let details = sh("ip -n \(lab.namespace("sw")) -d link show br0").output
        #expect(details.contains("stp_state 1"), "\(details)")
        let bridge = try LabInspector.inspect(lab: lab.name).nodes.first { $0.name == "sw" }?.interfaces.first { $0.name == "br0" }
        #expect(bridge?.bridge == BridgeState(stp: true, vlanFiltering: false))
        // Right after deploy, spanning tree keeps the ports listening for 15 s: no frame crosses,
        // and explain says why, in agreement with a real echo.
        let ports = sh("bridge -n \(lab.namespace("sw")) link show").output
        #expect(ports.contains("state listening"), "\(ports)")
        let explain = nslab(lab, "explain --lab LAB a 10.8.0.2")
        #expect(explain.status == 1 && explain.output.contains("port-not-forwarding") && explain.output.contains("as the model says"),
                "\(explain.output)")
    }

    /// No address and no route written, a bridged segment of four among point-to-point links:
    /// everything reaches everything, and a second deploy gives the same addresses.
    @Test func aLabWithoutAddressesOrRoutesVerifiesFullyAndKeepsItsAddresses() throws {
        let body = """
            addressing: { ipv4: 10.60.0.0/24, ipv6: "fd00:60::/48" }
            routing: static
            nodes: { sw: { kind: bridge }, a: , b: , c: , gw: { kind: router }, r2: { kind: router }, d: }
            links:
              - endpoints: [a, sw]
              - endpoints: [b, sw]
              - endpoints: [c, sw]
              - endpoints: [gw, sw]
              - endpoints: [gw, r2]
              - endpoints: [r2, d]

            """
        let lab = TestLab("auto")
        defer { lab.cleanUp() }
        _ = try lab.deploy(body)
        let first = try Self.addresses(lab)
        // The segment of four gets a /29 and a /64, in file order; the links after it /31s and /127s.
        #expect(first.contains("a:eth0 10.60.0.1/29") && first.contains("gw:eth0 10.60.0.4/29"), "\(first)")
        #expect(first.contains("c:eth0 fd00:60::3/64") && first.contains("d:eth0 10.60.0.11/31"), "\(first)")
        #expect(sh("ip -n \(lab.namespace("a")) route").output.contains("10.60.0.8/31 via 10.60.0.4"))
        let verify = nslab(lab, "verify LAB")
        #expect(verify.status == 0 && verify.output.contains("PASS") && verify.output.contains("0 failed"), "\(verify.output)")
        // Hosts on the bridge reach each other directly; d through both routers, both families.
        #expect(lab.exec("a", "ping -c 1 -W 2 \(try Self.address(lab, "c"))").status == 0)
        #expect(lab.exec("d", "ping -6 -c 1 -W 2 \(try Self.address(lab, "b", ipv6: true))").status == 0)

        _ = try LabDestroyer.destroy(lab: lab.name)
        _ = try lab.deploy(body)
        #expect(try Self.addresses(lab) == first)
    }

    /// examples/dual-stack-ring.yaml: four routers, four hosts, not one address or route written.
    @Test func theDualStackRingVerifiesAndTracesOverIPv6() throws {
        let lab = TestLab("ring")
        defer { lab.cleanUp() }
        _ = try lab.deploy(exampleBody("dual-stack-ring.yaml"))
        let verify = nslab(lab, "verify LAB")
        #expect(verify.status == 0 && verify.output.contains("224 answered, 0 failed") && verify.output.contains("2 of 2 expectations hold"),
                "\(verify.output)")
        let h3 = try Self.address(lab, "h3", ipv6: true)
        #expect(lab.exec("h1", "ping -6 -c 1 -W 2 \(h3)").output.contains("ttl=61"))
        #expect(nslab(lab, "ping --lab LAB -6 -c 1 h1 h3").status == 0)
        let trace = nslab(lab, "trace --lab LAB -6 h1 h3")
        let hops = trace.output.split(separator: "\n").dropFirst().compactMap { line in
            line.split(separator: "(").dropFirst().first?.split(separator: ":").first.map(String.init)
        }
        #expect(hops == ["r1", "r2", "r3", "h3"], "\(trace.output)")
        // iputils' traceroute crosses the same routers, by their IPv6 addresses.
        let traceroute = lab.exec("h1", "traceroute -6 -n -q 1 -w 1 \(h3)").output
        let r2 = try Self.addresses(lab).filter { $0.hasPrefix("r2:eth0 fd00") }.map { $0.split(separator: " ")[1].split(separator: "/")[0] }
        #expect(r2.count == 1 && traceroute.contains(" 2  \(r2[0])"), "\(traceroute)")
    }

    /// On a kernel without 802.1Q the deploy is refused with the reason, exit 2, nothing left.
    @Test(.enabled(if: !kernelHasVLANs, "this kernel has 802.1Q VLANs"))
    func withoutVLANSupportADeployWithVLANsIsRefusedAndRolledBack() throws {
        let lab = TestLab("novlan")
        defer { lab.cleanUp() }
        let path = "/tmp/\(lab.name).yaml"
        try ("name: \(lab.name)\nprefix: \(lab.prefix)\n" + exampleBody("vlan-trunk.yaml")).write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let deploy = sh("\(nslabBinary) deploy -q \(path) 2>&1")
        #expect(deploy.status == 2, "\(deploy.output)")
        #expect(deploy.output.contains("CONFIG_VLAN_8021Q") && deploy.output.contains("removed"), "\(deploy.output)")
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }

    /// examples/vlan-trunk.yaml: VLAN isolation both ways with nslab ping and iputils ping, the
    /// router on a stick between VLANs 10 and 20, tags on the trunk, and the kernel's own view.
    @Test(.enabled(if: kernelHasVLANs, "this kernel has no 802.1Q VLANs (CONFIG_VLAN_8021Q)"))
    func vlansIsolateBothWaysAndTheRouterOnAStickJoinsThem() throws {
        let lab = TestLab("vlan")
        defer { lab.cleanUp() }
        _ = try lab.deploy(exampleBody("vlan-trunk.yaml"))
        func pings(_ from: String, _ to: String) -> (nslab: Bool, iputils: Bool) {
            let address = (try? Self.address(lab, to)) ?? to
            return (nslab(lab, "ping --lab LAB -c 1 -W 1 \(from) \(address)").status == 0,
                    lab.exec(from, "ping -c 1 -W 1 \(address)").status == 0)
        }
        // Same VLAN, across the trunk: reaches.
        for (from, to) in [("a10", "b10"), ("b10", "a10"), ("a20", "b20"), ("c1", "c2"), ("c2", "c1")] {
            #expect(pings(from, to) == (true, true), "\(from) → \(to)")
        }
        // Same subnet, another VLAN: does not, either way.
        for (from, to) in [("c1", "d2"), ("d2", "c1"), ("c2", "d2"), ("d2", "c2")] {
            #expect(pings(from, to) == (false, false), "\(from) → \(to)")
        }
        // VLAN 10 to VLAN 20 only through gw's sub-interfaces (ttl one less).
        #expect(pings("a10", "b20") == (true, true))
        #expect(lab.exec("b20", "ping -c 1 -W 1 \(try Self.address(lab, "a10"))").output.contains("ttl=63"))
        let verify = nslab(lab, "verify LAB")
        #expect(verify.status == 0 && verify.output.contains("9 of 9 expectations hold"), "\(verify.output)")

        // The kernel's own view: ports, PVIDs, sub-interfaces.
        let vlans = sh("bridge -n \(lab.namespace("sw1")) vlan show").output
        #expect(vlans.contains("10 PVID Egress Untagged"), "\(vlans)")
        let sub = sh("ip -n \(lab.namespace("gw")) -d link show eth0.10").output
        #expect(sub.contains("eth0.10@eth0") && sub.contains("vlan protocol 802.1Q id 10"), "\(sub)")
        let state = try LabInspector.inspect(lab: lab.name)
        let trunk = state.nodes.first { $0.name == "sw1" }?.interfaces.first { $0.name == "eth0" }
        #expect(trunk?.vlans?.tagged == [10, 20, 30, 40] && trunk?.vlans?.pvid == nil)
        #expect(state.nodes.first { $0.name == "gw" }?.interfaces.first { $0.name == "eth0.20" }?.vlan == 20)

        // Frames on the trunk carry their 802.1Q tag.
        let capture = "/tmp/\(lab.name)-trunk.txt"
        defer { unlink(capture) }
        sh("(timeout 5 ip netns exec \(lab.namespace("sw1")) tcpdump -e -n -l -i eth0 -c 2 'vlan 10 and icmp' > \(capture) 2>&1 &)")
        usleep(1_000_000)
        lab.exec("a10", "ping -c 2 -i 0.2 \(try Self.address(lab, "b10"))")
        var seen = ""
        for _ in 0..<50 where !seen.contains("2 packets captured") {
            usleep(100_000)
            seen = (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        }
        #expect(seen.contains("vlan 10") && seen.contains("ethertype 802.1Q"), "\(seen)")
    }
}
