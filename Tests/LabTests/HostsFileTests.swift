import Glibc
import Testing
@testable import Lab
import Topology

/// The generated /etc/hosts: pure, no kernel needed.
@Suite struct HostsFileTests {
    func routers() throws -> Topology {
        try Topology.parse(yaml: "name: routers\n" + routersBody, file: "routers.yaml")
    }

    @Test func everyNodeByNameWithEveryAddressAndNodeInterfaceAliases() throws {
        let text = HostsFile.content(for: "ns01", in: try routers())
        let entries = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(entries == [
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            "192.168.0.1\tns01 ns01-ns01-veth0",
            "10.0.0.1\tns02 ns02-ns02-veth0",
            "192.168.0.254\trouter01 router01-gw01-veth0",
            "172.16.0.1\trouter01 router01-gw01-veth1",
            "172.16.0.2\trouter02 router02-gw02-veth0",
            "10.0.0.254\trouter02 router02-gw02-veth1",
        ])
        #expect(text.hasPrefix("# /etc/hosts of the nodes of lab routers"))
        #expect(text.hasSuffix("\n"))
    }

    @Test func ipv6AddressesAndANodeWithoutAddresses() throws {
        let topology = try Topology.parse(yaml: """
        name: six
        nodes: { a: , b: , lonely: }
        links:
          - endpoints: [a:eth0, "b:we#ird"]
            addresses: [[10.1.0.1/24, "fd00::1/64"], ~]

        """, file: "six.yaml")
        let forA = HostsFile.content(for: "a", in: topology).split(separator: "\n")
        #expect(forA.contains("10.1.0.1\ta a-eth0"))
        #expect(forA.contains("fd00::1\ta a-eth0"))
        #expect(!forA.contains { $0.contains("127.0.1.1") })
        // lonely has no address: it still resolves its own name, and no other node lists it.
        let forLonely = HostsFile.content(for: "lonely", in: topology).split(separator: "\n")
        #expect(forLonely.contains("127.0.1.1\tlonely"))
        #expect(!forA.contains { $0.contains("lonely") })
        // An interface name with '#' would start a comment: its alias is left out.
        #expect(!HostsFile.content(for: "b", in: topology).contains("we#ird"))
    }

    @Test func declaredHostsReplacesTheGeneratedOneOtherFilesAreAdded() throws {
        let topology = try Topology.parse(yaml: """
        name: files
        nodes:
          alpha: { files: { hosts: "127.0.1.1 alpha\\n" } }
          beta:  { files: { resolv.conf: "nameserver 192.0.2.1\\n" } }

        """, file: "files.yaml")
        let alpha = try #require(topology.node(named: "alpha")), beta = try #require(topology.node(named: "beta"))
        let alphaFiles = NodeFiles.files(of: alpha, in: topology, hostHasResolvConf: true)
        #expect(NodeFiles.fileNames(of: alpha, hostHasResolvConf: true) == alphaFiles.map(\.name))
        #expect(alphaFiles.map(\.name) == ["resolv.conf", "hosts"])
        #expect(alphaFiles.last?.content == "127.0.1.1 alpha\n")
        #expect(!alphaFiles[0].content.contains("nameserver "))
        let betaFiles = NodeFiles.files(of: beta, in: topology, hostHasResolvConf: true)
        #expect(betaFiles.map(\.name) == ["hosts", "resolv.conf"])
        #expect(betaFiles[0].content.contains("127.0.1.1\tbeta"))
        #expect(betaFiles[1].content == "nameserver 192.0.2.1\n")
        // A host without /etc/resolv.conf: nothing to bind over, so none is generated.
        #expect(NodeFiles.files(of: alpha, in: topology, hostHasResolvConf: false).map(\.name) == ["hosts"])
    }

    @Test func logNamesSayWhatRuns() {
        #expect(NodeProcesses.logLabel(["/bin/sh", "-c", "python3 -m http.server 8080"]) == "python3")
        #expect(NodeProcesses.logLabel(["/usr/bin/iperf3", "-s"]) == "iperf3")
        #expect(NodeProcesses.logLabel(["/bin/sh", "-c", "  "]) == "sh")
        #expect(NodeProcesses.logLabel(["we!rd$"]) == "werd")
    }

    /// Nodes with addresses share one generated hosts file: one copy written, the others
    /// hard links to it, so a large lab does not write the same list a thousand times.
    @Test(.enabled(if: isRoot, needsRoot)) func generatedHostsFilesAreOneFileLinkedIntoEachNode() throws {
        let lab = TestLab("hostlink")
        defer { lab.cleanUp() }
        _ = try lab.deploy(routersBody)
        var inodes = Set<UInt64>()
        for node in ["ns01", "ns02", "router01", "router02"] {
            var info = stat()
            #expect(stat("/etc/netns/\(lab.namespace(node))/hosts", &info) == 0)
            inodes.insert(UInt64(info.st_ino))
        }
        #expect(inodes.count == 1)
        #expect(lab.exec("ns01", "getent hosts router02-gw02-veth1").output.contains("10.0.0.254"))
    }
}
