import Foundation
import Testing

/// containerlab files written for these tests, deployed by `nslab deploy` and checked with
/// `nslab verify`; and a lab exported with `nslab export --format clab`, deployed back and
/// compared field by field with the original.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct ContainerlabDeployTests {
    /// A temporary directory and the lab's name; namespaces clab-LAB-NODE, as containerlab names them.
    struct ClabLab {
        let lab: TestLab
        let directory: String

        init(_ base: String) {
            lab = TestLab(base)
            directory = NSTemporaryDirectory() + lab.name
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        func namespace(_ node: String) -> String { "clab-\(lab.name)-\(node)" }

        func write(_ name: String, _ text: String) throws -> String {
            let path = "\(directory)/\(name)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        func cleanUp() {
            sh("\(nslabBinary) destroy \(lab.name)")
            for namespace in sh("ip netns list | grep '^clab-\(lab.name)-' | cut -d' ' -f1").output.split(separator: "\n") {
                sh("ip netns delete \(namespace)")
            }
            lab.cleanUp()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Two LANs joined by a router: one LAN a containerlab bridge node, hosts set up by exec
    /// lines, the router by the typed link form and a group.
    static func routedLAN(_ name: String) -> String {
        """
        name: \(name)
        mgmt: { network: clab-mgmt }
        topology:
          defaults:
            kind: linux
            image: ghcr.io/hellt/network-multitool
          groups:
            routers:
              sysctls: { net.ipv4.ip_forward: 1 }
          nodes:
            pc1:
              exec:
                - ip link set eth1 up
                - ip addr add 10.31.1.1/24 dev eth1
                - ip route add default via 10.31.1.254
            pc2:
              exec:
                - ip addr add 10.31.1.2/24 dev eth1
                - ip route add default via 10.31.1.254
            pc3:
              exec:
                - ip addr add 10.31.2.1/24 dev eth1
                - ip route add 10.31.1.0/24 via 10.31.2.254 dev eth1
            lan:
              kind: bridge
            gw:
              group: routers
          links:
            - endpoints: ["pc1:eth1", "lan:port1"]
            - endpoints: ["pc2:eth1", "lan:port2"]
            - type: veth
              endpoints:
                - { node: gw, interface: eth1, ipv4: 10.31.1.254/24 }
                - { node: lan, interface: port3 }
            - type: veth
              endpoints:
                - { node: gw, interface: eth2, ipv4: 10.31.2.254/24 }
                - { node: pc3, interface: eth1 }
              mtu: 1400
        """
    }

    @Test func deployVerifyAndConverge() throws {
        let clab = ClabLab("cl1")
        defer { clab.cleanUp() }
        let file = try clab.write("lab.clab.yml", Self.routedLAN(clab.lab.name))
        let validate = sh("\(nslabBinary) validate \(file)")
        #expect(validate.status == 0, "\(validate.output)")
        #expect(validate.output.contains("note: 'mgmt' ignored") && validate.output.contains("note: 'image' ignored"), "\(validate.output)")

        let deploy = sh("\(nslabBinary) deploy \(file)")
        try #require(deploy.status == 0, "\(deploy.output)")
        #expect(sh("ip -n \(clab.namespace("pc3")) route show").output.contains("10.31.1.0/24 via 10.31.2.254 dev eth1"))
        #expect(sh("ip -n \(clab.namespace("gw")) link show eth2").output.contains("mtu 1400"))
        let verify = sh("\(nslabBinary) verify \(clab.lab.name)")
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("PASS"), "\(verify.output)")

        // Deployed again unchanged: nothing to do (no exec line ran as a command).
        let again = sh("\(nslabBinary) deploy \(file)")
        #expect(again.output.contains("nothing to do"), "\(again.output)")
        // Edited: pc2 moves to another address; only that changes.
        _ = try clab.write("lab.clab.yml", Self.routedLAN(clab.lab.name).replacingOccurrences(of: "10.31.1.2/24", with: "10.31.1.3/24"))
        let diff = sh("\(nslabBinary) diff \(file)")
        #expect(diff.status == 1 && diff.output.contains("+ address 10.31.1.3/24 on pc2:eth1"), "\(diff.output)")
        #expect(sh("\(nslabBinary) deploy \(file)").status == 0)
        #expect(sh("\(nslabBinary) verify \(clab.lab.name)").status == 0)
    }

    /// Lines that are not addresses or routes run as the node's commands, with its env; files
    /// bound over /etc are the node's own.
    @Test func execCommandsEnvAndBinds() throws {
        let clab = ClabLab("cl2")
        defer { clab.cleanUp() }
        let marker = "\(clab.directory)/greeting"
        _ = try clab.write("hosts", "127.0.0.1 localhost\n10.32.0.2 peer\n")
        let file = try clab.write("lab.clab.yml", """
            name: \(clab.lab.name)
            topology:
              kinds:
                linux:
                  env: { GREETING: hello }
              nodes:
                a:
                  kind: linux
                  binds: ["hosts:/etc/hosts:ro"]
                  exec:
                    - ip addr add 10.32.0.1/30 dev eth1
                    - sh -c 'echo $$GREETING > \(marker)'
                b:
                  kind: linux
                  exec: ["ip addr add 10.32.0.2/30 dev eth1"]
              links:
                - endpoints: ["a:eth1", "b:eth1"]
            """)
        let deploy = sh("\(nslabBinary) deploy \(file)")
        try #require(deploy.status == 0, "\(deploy.output)")
        var greeting = ""
        for _ in 0..<50 where greeting.isEmpty {
            greeting = (try? String(contentsOfFile: marker, encoding: .utf8)) ?? ""
            usleep(50_000)
        }
        #expect(greeting == "hello\n")
        let ping = sh("\(nslabBinary) exec --lab \(clab.lab.name) a -- ping -c 1 -W 2 peer")
        #expect(ping.status == 0 && ping.output.contains("10.32.0.2"), "\(ping.output)")
    }

    /// Seed 001's routed lab (examples/routers.yaml, its addresses in 10/8), with an MTU and IPv6.
    static let routers = """
        nodes:
          ns01: { routes: [default via 10.41.0.254, "::/0 via fd00:41::254"] }
          ns02: { routes: [default via 10.43.0.254] }
          router01: { kind: router, routes: [10.43.0.0/24 via 10.42.0.2] }
          router02: { kind: router, routes: [10.41.0.0/24 via 10.42.0.1] }
        links:
          - endpoints: [ns01:ns01-veth0, router01:gw01-veth0]
            addresses: [[10.41.0.1/24, "fd00:41::1/64"], [10.41.0.254/24, "fd00:41::254/64"]]
          - endpoints: [router01:gw01-veth1, router02:gw02-veth0]
            addresses: [10.42.0.1/24, 10.42.0.2/24]
            mtu: 1400
          - endpoints: [router02:gw02-veth1, ns02:ns02-veth0]
            addresses: [10.43.0.254/24, 10.43.0.1/24]
        """

    /// A lab exported and deployed back: every node's kernel state is the same.
    /// containerlab's frr kind and an FRR image on a linux node, each with its own frr.conf and
    /// daemons file: run with the host's FRR, OSPF between them, hosts set up by exec lines.
    @Test func frrNodesRouteWithTheirOwnConfiguration() throws {
        let clab = ClabLab("cfrr")
        defer { clab.cleanUp(); sh("rm -rf /etc/frr/clab-\(clab.lab.name)-* /var/run/frr/clab-\(clab.lab.name)-*") }
        for (router, id) in [("r1", "10.33.0.1"), ("r2", "10.33.0.2")] {
            try FileManager.default.createDirectory(atPath: "\(clab.directory)/\(router)", withIntermediateDirectories: true)
            _ = try clab.write("\(router)/daemons", "zebra=yes\nospfd=yes\nvtysh_enable=yes\n")
            _ = try clab.write("\(router)/frr.conf", """
                frr defaults traditional
                hostname \(router)
                router ospf
                 ospf router-id \(id)
                 timers throttle spf 0 50 1000
                 timers throttle lsa all 0
                 timers lsa min-arrival 0
                exit
                interface eth1
                 ip ospf network point-to-point
                 ip ospf hello-interval 1
                 ip ospf dead-interval 3
                 ip ospf area 0
                exit
                interface eth2
                 ip ospf passive
                 ip ospf area 0
                exit

                """)
        }
        let file = try clab.write("frr.clab.yml", """
            name: \(clab.lab.name)
            topology:
              nodes:
                r1:
                  kind: frr
                  image: quay.io/frrouting/frr:8.4.1
                  binds: [r1/daemons:/etc/frr/daemons, r1/frr.conf:/etc/frr/frr.conf]
                  exec: [ip addr add 10.33.0.1/30 dev eth1, ip addr add 10.33.1.1/24 dev eth2]
                r2:
                  kind: linux
                  image: quay.io/frrouting/frr:8.4.1
                  binds: [r2/daemons:/etc/frr/daemons, r2/frr.conf:/etc/frr/frr.conf]
                  exec: [ip addr add 10.33.0.2/30 dev eth1, ip addr add 10.33.2.1/24 dev eth2]
                pc1:
                  kind: linux
                  exec: [ip addr add 10.33.1.2/24 dev eth1, ip route add default via 10.33.1.1]
                pc2:
                  kind: linux
                  exec: [ip addr add 10.33.2.2/24 dev eth1, ip route add default via 10.33.2.1]
              links:
                - endpoints: ["r1:eth1", "r2:eth1"]
                - endpoints: ["r1:eth2", "pc1:eth1"]
                - endpoints: ["r2:eth2", "pc2:eth1"]
            """)
        let deploy = sh("\(nslabBinary) deploy \(file)")
        #expect(deploy.status == 0, "\(deploy.output)")
        // OSPF from the nodes' own configuration carries pc2's subnet to r1.
        #expect(waitUntil(seconds: 20) {
            sh("ip netns exec \(clab.namespace("pc1")) ping -c 1 -W 1 10.33.2.2").status == 0
        })
        #expect(sh("ip -n \(clab.namespace("r1")) route show 10.33.2.0/24").output.contains("proto ospf"))
        let neighbour = sh("\(nslabBinary) exec --lab \(clab.lab.name) r1 -- vtysh -c 'show ip ospf neighbor'")
        #expect(neighbour.output.contains("Full"))
        #expect(sh("\(nslabBinary) destroy \(clab.lab.name)").status == 0)
        #expect(!FileManager.default.fileExists(atPath: "/etc/frr/\(clab.namespace("r1"))"))
    }

    @Test func exportDeploysToTheSameKernelState() throws {
        let original = TestLab("clx")
        let clab = ClabLab("clxb")
        defer { original.cleanUp(); clab.cleanUp() }
        let source = try clab.write("routers.yaml", "name: \(original.name)\nprefix: \(original.prefix)\n" + Self.routers)
        #expect(sh("\(nslabBinary) deploy \(source)").status == 0)
        let nodes = ["ns01", "ns02", "router01", "router02"]
        let before = nodes.map { SeedComparisonTests.state(of: original.namespace($0)) }
        // IPv6 only between ns01 and router01: verify fails the same pairs in both.
        let verifyOriginal = sh("\(nslabBinary) verify \(original.name) --json")

        let exported = "\(clab.directory)/routers.clab.yml"
        let export = sh("\(nslabBinary) export \(original.name) --format clab -o \(exported)")
        try #require(export.status == 0, "\(export.output)")
        let text = try String(contentsOfFile: exported, encoding: .utf8)
        #expect(text.contains("kind: linux") && text.contains("ip route add 10.43.0.0/24 via 10.42.0.2"), "\(text)")
        #expect(sh("\(nslabBinary) destroy \(original.name)").status == 0)

        // Deployed under the other test lab's name, so that its namespaces are clab-NAME-NODE.
        _ = try clab.write("routers.clab.yml", text.replacingOccurrences(of: "name: \(original.name)", with: "name: \(clab.lab.name)"))
        let deploy = sh("\(nslabBinary) deploy \(exported)")
        try #require(deploy.status == 0, "\(deploy.output)")
        let after = nodes.map { SeedComparisonTests.state(of: clab.namespace($0)) }
        for (index, node) in nodes.enumerated() {
            #expect(before[index].count > 3, "\(node): nothing read back")
            #expect(after[index] == before[index], """
                \(node) differs
                only original: \(before[index].filter { !after[index].contains($0) })
                only export:   \(after[index].filter { !before[index].contains($0) })
                """)
        }
        let verifyExport = sh("\(nslabBinary) verify \(clab.lab.name) --json")
        #expect(verifyExport.status == verifyOriginal.status)
        let failed = { (output: String) in output.split(separator: "\n").first { $0.contains("\"failedPairs\"") } }
        #expect(failed(verifyExport.output) != nil && failed(verifyExport.output) == failed(verifyOriginal.output),
                "\(verifyOriginal.output)\n\(verifyExport.output)")
    }
}
