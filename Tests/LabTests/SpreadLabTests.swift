import Foundation
import Testing

/// Labs spread over hosts, on simulated hosts (scripts/sim-hosts.sh): each a network namespace
/// with its own /run and /etc and its own sshd, on an underlay bridge. The controller is nslab run
/// on host 1; hosts 2 and 3 are reached over ssh, as on real machines.
@Suite(.serialized, .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"),
                            "needs root and openssh-server: simulated hosts run their own sshd"))
struct SpreadLabTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/sim-hosts.sh").path

    /// Three simulated hosts for one test, removed (with whatever labs they hold) at the end.
    struct Hosts {
        let name: String
        let directory: String

        init() throws {
            let lab = TestLab("sp")
            name = String(lab.name.dropLast(3))  // tDIGITS
            directory = NSTemporaryDirectory() + "\(name)-files"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let binaryDirectory = (nslabBinary as NSString).deletingLastPathComponent
            let up = sh("NSLAB_DIR=\(binaryDirectory) \(SpreadLabTests.script) up \(name) 3")
            if up.status != 0 { sh("\(SpreadLabTests.script) down \(name)") }
            try #require(up.status == 0, "sim-hosts up: \(up.output)")
        }

        func host(_ k: Int) -> String { "\(name)-h\(k)" }

        /// A shell line on host k (in the directory of the test's files).
        @discardableResult
        func run(_ k: Int, _ line: String) -> (status: Int32, output: String) {
            sh("cd \(directory) && \(SpreadLabTests.script) run \(host(k)) sh -c '\(line.replacingOccurrences(of: "'", with: "'\\''"))'")
        }

        func write(_ file: String, _ text: String) throws {
            try text.write(toFile: "\(directory)/\(file)", atomically: true, encoding: .utf8)
        }

        /// What a host holds of labs: its namespaces, records and /etc/netns entries.
        func leftovers(_ k: Int) -> String {
            run(k, "ip netns list 2>/dev/null; ls -A /run/nslab 2>/dev/null; ls -A /etc/netns 2>/dev/null").output
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// `nslab destroy` from the controller, and no host keeps anything of any lab.
        func destroyLeavingNothing(_ lab: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let destroy = run(1, "nslab destroy \(lab)")
            #expect(destroy.status == 0, "\(destroy.output)", sourceLocation: sourceLocation)
            for k in 1...3 { #expect(leftovers(k) == "", "host \(k) keeps: \(leftovers(k))", sourceLocation: sourceLocation) }
        }

        func remove() {
            sh("\(SpreadLabTests.script) down \(name)")
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Routers and a bridge over three hosts, dual-stack: a and r1 on the controller, the switch
    /// and b, c on host 2, r2 and d on host 3.
    static func lab(name: String, dOn host: String = "h3") -> String {
        """
        name: \(name)
        hosts:
          h2: root@192.0.2.2
          h3: { ssh: root@192.0.2.3 }
        routing: static
        nodes:
          a: {}
          r1: { kind: router }
          sw: { kind: bridge, host: h2 }
          b: { host: h2 }
          c: { host: h2 }
          r2: { kind: router, host: h3 }
          d: { host: \(host) }
        links:
          - endpoints: [a, r1]
            addresses: [[10.1.0.1/24, "fd00:1::1/64"], [10.1.0.2/24, "fd00:1::2/64"]]
          - endpoints: [r1, sw]
            addresses: [[10.2.0.1/24, "fd00:2::1/64"], ~]
          - endpoints: [b, sw]
            addresses: [[10.2.0.11/24, "fd00:2::11/64"], ~]
          - endpoints: [c, sw]
            addresses: [[10.2.0.12/24, "fd00:2::12/64"], ~]
          - endpoints: [r2, sw]
            addresses: [[10.2.0.2/24, "fd00:2::2/64"], ~]
          - endpoints: [r2, d]
            addresses: [[10.3.0.1/24, "fd00:3::1/64"], [10.3.0.2/24, "fd00:3::2/64"]]
        """
    }

    @Test("a lab over three hosts deploys, verifies across them, fails and restores a link between hosts, moves a node, and leaves nothing")
    func spreadLab() throws {
        let hosts = try Hosts()
        defer { hosts.remove() }
        let name = "\(hosts.name)-lab"
        try hosts.write("lab.yaml", Self.lab(name: name))

        let deploy = hosts.run(1, "nslab deploy --quiet lab.yaml")
        try #require(deploy.status == 0, "\(deploy.output)")
        #expect(deploy.output.contains("deployed 3 hosts"), "\(deploy.output)")
        // Each host holds its own nodes, in its own namespaces; the machine sees none of them.
        #expect(hosts.run(1, "ip netns list").output.split(separator: "\n").map { $0.split(separator: " ")[0] }.sorted() == ["a", "r1"])
        #expect(hosts.run(2, "ip netns list").output.split(separator: "\n").map { $0.split(separator: " ")[0] }.sorted() == ["b", "c", "sw"])
        #expect(hosts.run(3, "ip netns list").output.split(separator: "\n").map { $0.split(separator: " ")[0] }.sorted() == ["d", "r2"])
        #expect(!sh("ip netns list").output.split(separator: "\n").contains { $0.hasPrefix("r1 ") || $0 == "r1" })
        // The links between hosts are VXLAN interfaces in the nodes, MTU lowered by the encapsulation.
        let tunnel = hosts.run(1, "ip -n r1 -d link show eth1").output
        #expect(tunnel.contains("vxlan id") && tunnel.contains("remote 192.0.2.2") && tunnel.contains("mtu 1450"), "\(tunnel)")
        // inspect shows each host's part, the tunnel ends with their VNI and the other host.
        let inspect = hosts.run(1, "nslab inspect \(name)").output
        #expect(inspect.contains("== host h2") && inspect.contains("== host h3") && inspect.contains("vxlan 10000 → 192.0.2.2"), "\(inspect)")

        // Every node reaches every address of every other node, from every host, both families.
        let verify = hosts.run(1, "nslab verify --quiet \(name)")
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.components(separatedBy: "0 failed").count - 1 == 3, "\(verify.output)")
        #expect(hosts.run(1, "nslab exec a ping -c1 -W2 d").status == 0)
        #expect(hosts.run(1, "nslab exec a ping -6 -c1 -W2 fd00:3::2").status == 0)
        // Commands on a node of another host run there.
        #expect(hosts.run(1, "nslab exec d hostname").output.trimmingCharacters(in: .whitespacesAndNewlines) == "d")
        let trace = hosts.run(1, "nslab trace a d")
        #expect(trace.output.contains("(r2:eth0 on h3)") && trace.output.contains("(d:eth0 on h3)"), "\(trace.output)")

        // explain walks every host's part, there and back, naming the host of each hop.
        let explain = hosts.run(1, "nslab explain a d")
        #expect(explain.status == 0 && explain.output.contains("r2 on h3  in eth0") && explain.output.contains("✓ delivered: 10.3.0.2 is on d:eth0")
                && explain.output.contains("(as the model says)"), "\(explain.output)")
        // A host that cannot be read: the walk stops at the link to it, and says so.
        sh("\(Self.script) stop-sshd \(hosts.host(2))")
        let blind = hosts.run(1, "nslab explain a d")
        #expect(blind.output.contains("other-host: r1:eth1 is a link to host h2") && blind.output.contains("could not be read (host h2"),
                "\(blind.output)")
        sh("\(Self.script) start-sshd \(hosts.host(2))")

        // A link between hosts fails at both ends, and comes back.
        #expect(hosts.run(1, "nslab link \(name) r1:eth1 down").status == 0)
        #expect(hosts.run(2, "ip -n sw -br link show eth0").output.contains("DOWN"))
        // The picture of the whole lab is read from every host: the link is drawn down.
        let picture = hosts.run(1, "nslab graph \(name) --format dot").output
        #expect(picture.contains("(1 down)") && picture.contains("\"r1\":") && picture.contains("\"d\""), "\(picture)")
        #expect(hosts.run(1, "nslab exec a ping -c1 -W1 10.3.0.2").status != 0)
        #expect(hosts.run(1, "nslab link \(name) r1:eth1 up").status == 0)
        #expect(hosts.run(1, "nslab exec a ping -c1 -W2 10.3.0.2").status == 0)

        // d moves from host 3 to host 2: diff says so, deploy does it, the lab works again.
        try hosts.write("moved.yaml", Self.lab(name: name, dOn: "h2"))
        let diff = hosts.run(1, "nslab diff moved.yaml")
        #expect(diff.status == 1 && diff.output.contains("h2: + node d") && diff.output.contains("h3: - node d"), "\(diff.output)")
        let move = hosts.run(1, "nslab deploy --quiet moved.yaml")
        #expect(move.status == 0, "\(move.output)")
        #expect(hosts.run(2, "ip netns list").output.contains("d"))
        #expect(!hosts.run(3, "ip netns list").output.contains("d"))
        let again = hosts.run(1, "nslab verify --quiet \(name)")
        #expect(again.status == 0, "\(again.output)")
        #expect(hosts.run(1, "nslab deploy --quiet moved.yaml").output.contains("nothing to do"))

        hosts.destroyLeavingNothing(name)
    }

    /// Three routers in a ring over three hosts, a host behind each, dual-stack, under `routing`.
    static func routedLab(name: String, routing: String) -> String {
        """
        name: \(name)
        hosts: { h2: root@192.0.2.2, h3: root@192.0.2.3 }
        routing: \(routing)
        addressing: { ipv4: 10.9.0.0/16, ipv6: "fd00:9::/48" }
        nodes:
          a: {}
          r1: { kind: router }
          r2: { kind: router, host: h2 }
          b: { host: h2 }
          r3: { kind: router, host: h3 }
          c: { host: h3 }
        links:
          - endpoints: [a, r1]
          - endpoints: [r1, r2]
          - endpoints: [r2, r3]
          - endpoints: [r3, r1]
          - endpoints: [r2, b]
          - endpoints: [r3, c]
        """
    }

    @Test("OSPF and BGP run across hosts: adjacencies over the links between hosts, routes around a failed one, nothing left")
    func routingAcrossHosts() throws {
        let hosts = try Hosts()
        defer { hosts.remove() }
        let name = "\(hosts.name)-ospf"
        try hosts.write("ospf.yaml", Self.routedLab(name: name, routing: "ospf"))

        // deploy waits for every host's routing.
        let deploy = hosts.run(1, "nslab deploy --quiet ospf.yaml")
        try #require(deploy.status == 0, "\(deploy.output)")
        #expect(deploy.output.contains("h2: routing converged") && deploy.output.contains("h3: routing converged"), "\(deploy.output)")
        // r2 on host 2 is Full with r1 (this machine) and r3 (host 3), over VXLAN, in both families.
        let neighbours = hosts.run(2, "vtysh -N r2 -c 'show ip ospf neighbor'").output
        #expect(neighbours.components(separatedBy: "Full").count - 1 == 2, "\(neighbours)")
        let neighbours6 = hosts.run(2, "vtysh -N r2 -c 'show ipv6 ospf6 neighbor'").output
        #expect(neighbours6.components(separatedBy: "Full").count - 1 == 2, "\(neighbours6)")
        let verify = hosts.run(1, "nslab verify --quiet \(name)")
        #expect(verify.status == 0, "\(verify.output)")

        // The link between r1 and r2 fails: OSPF routes a to b through r3 on host 3.
        #expect(hosts.run(1, "nslab link \(name) r1:eth1 down").status == 0)
        let wait = hosts.run(1, "nslab wait --quiet \(name)")
        #expect(wait.status == 0, "\(wait.output)")
        let detour = hosts.run(1, "nslab trace a b")
        #expect(detour.status == 0 && detour.output.contains("on h3"), "\(detour.output)")
        #expect(hosts.run(1, "nslab exec a ping -6 -c1 -W2 b").status == 0)
        // explain from a node of host 2 walks the detour through hosts 3 and 1, and pings from b.
        let explain = hosts.run(1, "nslab explain b a")
        #expect(explain.status == 0 && explain.output.contains("r3 on h3") && explain.output.contains("echo from b: reply from 10.9.0.0 (ping on h2)"),
                "\(explain.output)")
        #expect(hosts.run(1, "nslab link \(name) r1:eth1 up").status == 0)
        hosts.destroyLeavingNothing(name)

        // The same ring under BGP: one AS per router, sessions over the links between hosts.
        let bgp = "\(hosts.name)-bgp"
        try hosts.write("bgp.yaml", Self.routedLab(name: bgp, routing: "bgp"))
        let deployBGP = hosts.run(1, "nslab deploy --quiet bgp.yaml")
        try #require(deployBGP.status == 0, "\(deployBGP.output)")
        let sessions = hosts.run(3, "vtysh -N r3 -c 'show bgp summary'").output
        #expect(sessions.contains("65001") && sessions.contains("65002"), "\(sessions)")
        let verifyBGP = hosts.run(1, "nslab verify --quiet \(bgp)")
        #expect(verifyBGP.status == 0, "\(verifyBGP.output)")
        hosts.destroyLeavingNothing(bgp)
        // FRR's files for the nodes are gone from every host (its /etc/frr shows the machine's
        // too, where other labs' routers may come and go).
        for k in 1...3 {
            let left = hosts.run(k, "ls /etc/frr").output.split(separator: "\n").filter { ["r1", "r2", "r3"].contains($0) }
            #expect(left.isEmpty, "host \(k) keeps /etc/frr/\(left)")
        }
    }

    @Test("a host that cannot be reached stops the deploy before anything changes; a host lost mid-deploy rolls the others back")
    func failures() throws {
        let hosts = try Hosts()
        defer { hosts.remove() }
        let name = "\(hosts.name)-lab"
        try hosts.write("lab.yaml", Self.lab(name: name))

        sh("\(Self.script) stop-sshd \(hosts.host(3))")
        let refused = hosts.run(1, "nslab deploy --quiet lab.yaml")
        #expect(refused.status != 0)
        #expect(refused.output.contains("host h3 (root@192.0.2.3) cannot be reached"), "\(refused.output)")
        for k in 1...3 { #expect(hosts.leftovers(k) == "", "host \(k) keeps: \(hosts.leftovers(k))") }
        sh("\(Self.script) start-sshd \(hosts.host(3))")

        // Another version of nslab on a host: refused before anything changes, both versions named.
        try hosts.write("old-nslab", "#!/bin/sh\n[ \"$1\" = --version ] && { echo '0.0.9 (commit 0123abcd)'; exit 0; }\nexec nslab \"$@\"\n")
        chmod("\(hosts.directory)/old-nslab", 0o755)
        try hosts.write("old.yaml", Self.lab(name: name).replacingOccurrences(
            of: "h3: { ssh: root@192.0.2.3 }", with: "h3: { ssh: root@192.0.2.3, nslab: \(hosts.directory)/old-nslab }"))
        let old = hosts.run(1, "nslab deploy --quiet old.yaml")
        #expect(old.status != 0)
        #expect(old.output.contains("host h3 runs nslab 0.0.9 (commit 0123abcd), this machine 0.1.0"), "\(old.output)")
        for k in 1...3 { #expect(hosts.leftovers(k) == "", "host \(k) keeps: \(hosts.leftovers(k))") }

        // Host 3's nslab deploys its part, then ends every sshd of host 3 before answering: the
        // controller loses the host mid-deploy, after this machine and host 2 have their parts.
        let anchor = "/tmp/nslab-sim/\(hosts.name)/\(hosts.host(3))/anchor"
        try hosts.write("lose-host", """
            #!/bin/sh
            if [ "$1" = deploy ]; then
              nslab "$@" >/dev/null 2>&1
              anchor=$(cat \(anchor))
              for p in $(pgrep -x sshd); do
                [ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/$anchor/ns/net)" ] && kill -9 $p
              done
              exit 1
            fi
            exec nslab "$@"
            """)
        chmod("\(hosts.directory)/lose-host", 0o755)
        try hosts.write("lost.yaml", Self.lab(name: name).replacingOccurrences(
            of: "h3: { ssh: root@192.0.2.3 }", with: "h3: { ssh: root@192.0.2.3, nslab: \(hosts.directory)/lose-host }"))
        let lost = hosts.run(1, "nslab deploy --quiet lost.yaml")
        #expect(lost.status != 0)
        #expect(lost.output.contains("host h3: lost"), "\(lost.output)")
        #expect(lost.output.contains("could not be cleaned"), "\(lost.output)")
        #expect(hosts.leftovers(1).split(separator: "\n") == [Substring(name)], "only the record naming host 3 stays: \(hosts.leftovers(1))")
        #expect(hosts.leftovers(2) == "")
        // Host 3 kept its part; once it is back, destroy finishes the job.
        #expect(hosts.run(3, "ip netns list").output.contains("r2"))
        sh("\(Self.script) start-sshd \(hosts.host(3))")
        hosts.destroyLeavingNothing(name)
    }

    @Test("bad hosts in a topology are refused with where and what to do")
    func validation() throws {
        let hosts = try Hosts()
        defer { hosts.remove() }
        try hosts.write("bad.yaml", """
            name: bad
            hosts: { h2: root@192.0.2.2 }
            nodes: { a: {}, b: { host: h9 }, c: { host: h2 } }
            links:
              - { endpoints: [a, c], vni: 7 }
              - { endpoints: [a, b], vni: 7 }
            """)
        let result = hosts.run(1, "nslab deploy bad.yaml")
        #expect(result.status == 2)
        #expect(result.output.contains("bad.yaml:3:28: error: node 'b' is on unknown host 'h9'"), "\(result.output)")
        #expect(result.output.contains("bad.yaml:6:31: error: VNI 7 is already used by the link at bad.yaml:5:31"), "\(result.output)")
        #expect(hosts.leftovers(1) == "")
    }
}
