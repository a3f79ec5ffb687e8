import Foundation
import Testing
@testable import Lab
import NetAddress
import Topology

@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct DeployTests {
    @Test func routersLabForwardsAcrossTwoRouters() throws {
        let lab = TestLab("routers")
        defer { lab.cleanUp() }
        let result = try lab.deploy(routersBody)
        #expect(result.nodes == 4 && result.links == 3 && result.addresses == 6 && result.routes == 4)
        #expect(lab.namespaces() == ["ns01", "ns02", "router01", "router02"].map(lab.namespace).sorted())

        // The seed's own check: ttl 62 means two routers forwarded the reply.
        let ping = lab.exec("ns01", "ping -c 1 -W 2 10.0.0.1 -I 192.168.0.1")
        #expect(ping.status == 0, "\(ping.output)")
        #expect(ping.output.contains("ttl=62"), "\(ping.output)")

        let routes = sh("ip -n \(lab.namespace("router01")) route").output
        #expect(routes.contains("10.0.0.0/24 via 172.16.0.2 dev gw01-veth1"), "\(routes)")
        #expect(routes.contains("192.168.0.0/24 dev gw01-veth0 proto kernel scope link src 192.168.0.254"), "\(routes)")
        #expect(sh("ip -n \(lab.namespace("ns01")) route").output.contains("default via 192.168.0.254 dev ns01-veth0"))

        // The node's loopback carries the lab's tag and is up; the veths are up, untagged.
        let link = sh("ip -n \(lab.namespace("ns01")) -d link show ns01-veth0").output
        #expect(!link.contains("alias"), "\(link)")
        #expect(link.contains("state UP"), "\(link)")
        let loopback = sh("ip -n \(lab.namespace("ns01")) -d link show lo").output
        #expect(loopback.contains(",UP") && loopback.contains("alias nslab:\(lab.name)/ns01"), "\(loopback)")
        // An IPv4 lab leaves duplicate address detection as the kernel sets it in a new namespace.
        let fresh = sh("unshare -n cat /proc/sys/net/ipv6/conf/default/accept_dad").output
        #expect(!fresh.isEmpty && lab.exec("ns01", "cat /proc/sys/net/ipv6/conf/default/accept_dad").output == fresh)
    }

    @Test func forwardingIsExplicitOnEveryNodeEvenWhenTheHostForwards() throws {
        let lab = TestLab("fwd")
        defer { lab.cleanUp() }
        // A new namespace copies the host's IPv4 forwarding: turn it on to prove hosts still get 0.
        let before = sh("cat /proc/sys/net/ipv4/ip_forward").output.trimmingCharacters(in: .whitespacesAndNewlines)
        sh("echo 1 > /proc/sys/net/ipv4/ip_forward")
        defer { sh("echo \(before) > /proc/sys/net/ipv4/ip_forward") }
        _ = try lab.deploy(routersBody)
        for (node, expected) in [("ns01", "0"), ("ns02", "0"), ("router01", "1"), ("router02", "1")] {
            #expect(lab.exec(node, "cat /proc/sys/net/ipv4/ip_forward").output.hasPrefix(expected), "ipv4 \(node)")
            #expect(lab.exec(node, "cat /proc/sys/net/ipv6/conf/all/forwarding").output.hasPrefix(expected), "ipv6 \(node)")
        }
    }

    @Test func hostNamespaceSeesNoLinkDuringDeploy() throws {
        let lab = TestLab("quiet")
        defer { lab.cleanUp() }
        let log = "/tmp/\(lab.name).monitor"
        // Events only: at start ip monitor asks the kernel for the id of every name in /run/netns,
        // and a namespace another test is creating at that moment (its file not yet mounted)
        // makes it print "Error: Peer netns reference is invalid." on stderr.
        let monitor = sh("ip monitor link > \(log) 2> /dev/null & echo $!").output.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { sh("kill \(monitor); rm -f \(log)") }
        usleep(200_000)  // let ip monitor subscribe
        _ = try lab.deploy(routersBody)
        usleep(200_000)
        let seen = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "unreadable"
        #expect(seen.isEmpty, "host namespace saw link events: \(seen)")
    }

    @Test func dualStackAddressesAndIPv6RoutesWork() throws {
        let lab = TestLab("v6")
        defer { lab.cleanUp() }
        _ = try lab.deploy("""
        nodes:
          a: { routes: ["default via fd00:1::2"] }
          r: { kind: router }
          b: { routes: ["default via fd00:2::2", "default via 10.2.0.2"] }
        links:
          - endpoints: [a:eth0, r:eth0]
            addresses: [[10.1.0.1/24, "fd00:1::1/64"], [10.1.0.2/24, "fd00:1::2/64"]]
          - endpoints: [b:eth0, r:eth1]
            addresses: [[10.2.0.1/24, "fd00:2::1/64"], [10.2.0.2/24, "fd00:2::2/64"]]

        """)
        // A lab with IPv6 gets no duplicate address detection: link-local addresses work at once.
        for node in ["a", "r", "b"] {
            #expect(lab.exec(node, "cat /proc/sys/net/ipv6/conf/default/accept_dad").output.hasPrefix("0"), "\(node)")
        }
        let tentative = lab.exec("r", "ip -6 address show tentative").output
        #expect(tentative.isEmpty, "\(tentative)")
        let ping6 = lab.exec("a", "ping -6 -c 1 -W 2 fd00:2::1")
        #expect(ping6.status == 0, "\(ping6.output)")
        #expect(ping6.output.contains("ttl=63"), "\(ping6.output)")
        // a has no IPv4 default route: IPv4 to b's subnet must fail.
        #expect(lab.exec("a", "ping -c 1 -W 1 10.2.0.1").status != 0)
    }

    @Test func redeployingTheSameFileChangesNothing() throws {
        let lab = TestLab("again")
        defer { lab.cleanUp() }
        let body = "nodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a, b]\n    addresses: [10.9.0.1/30, 10.9.0.2/30]\n"
        _ = try lab.deploy(body)
        let inodeBefore = sh("stat -L -c %i /run/netns/\(lab.namespace("a"))").output
        let second = try lab.deploy(body)
        #expect(second.unchanged)
        #expect(sh("stat -L -c %i /run/netns/\(lab.namespace("a"))").output == inodeBefore)
        // A comment changes the file but not the lab.
        #expect(try lab.deploy(body + "# changed\n").unchanged)
        #expect(lab.namespaces().count == 2)
    }

    @Test func collisionWithAForeignNamespaceChangesNothing() throws {
        let lab = TestLab("clash")
        defer { lab.cleanUp() }
        #expect(sh("ip netns add \(lab.namespace("b"))").status == 0)
        #expect(sh("ip -n \(lab.namespace("b")) link add keepme type veth peer name keepme-peer").status == 0)
        do {
            _ = try lab.deploy("nodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a, b]\n")
            Issue.record("deploy should have been refused")
        } catch let error as LabError {
            guard case .collision(let problems) = error else { Issue.record("wrong error: \(error)"); return }
            #expect(problems.count == 1 && problems[0].contains(lab.namespace("b")), "\(problems)")
            #expect(error.exitCode == 2)
        }
        #expect(lab.namespaces() == [lab.namespace("b")], "nothing else may be created")
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        // Destroying the lab by name must not touch the foreign namespace either.
        let result = try LabDestroyer.destroy(lab: lab.name)
        #expect(!result.existed)
        #expect(sh("ip -n \(lab.namespace("b")) link show keepme").status == 0)
    }

    @Test func kernelRefusalMidwayRollsEverythingBack() throws {
        let lab = TestLab("rollback")
        defer { lab.cleanUp() }
        // Built in code, past validation: the route's gateway is its subnet's broadcast address,
        // which only the kernel refuses, after namespaces, links and addresses exist.
        let here = SourceLocation(file: "x", line: 1, column: 1)
        let p = { (text: String) in IPPrefix(text)! }
        let topology = Topology(
            name: lab.name, prefix: lab.prefix,
            nodes: [Node(name: "a", routes: [Route(destination: p("10.7.0.0/16"), gateway: IPAddress("10.9.0.3"), location: here)],
                         location: here),
                    Node(name: "b", location: here)],
            links: [Link(endpoints: [Endpoint(node: "a", interface: "eth0", addresses: [p("10.9.0.1/30")], location: here),
                                     Endpoint(node: "b", interface: "eth0", addresses: [p("10.9.0.2/30")], location: here)],
                         location: here)],
            file: "x")
        #expect(throws: LabError.self) { try LabDeployer.deploy(topology, sourceText: "x") }
        #expect(lab.namespaces().isEmpty, "rollback left \(lab.namespaces())")
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }
}
