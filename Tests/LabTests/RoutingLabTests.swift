import Foundation
import Testing
@testable import Lab
import Routing
import Topology

/// Real FRR in real namespaces: OSPF and BGP labs deployed, converged, failed and restored;
/// vtysh on the routers; nothing of FRR left after destroy, the host's own FRR untouched.
@Suite(.serialized, .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/lib/frr/zebra"),
                             "needs root and FRR (apt-get install frr)"))
struct RoutingLabTests {
    /// The host's FRR files and run directory as they are: a lab must not change them. The
    /// directories of other tests' labs, running in parallel (names with a `tDIGITS-` tag),
    /// come and go and are left out.
    private func hostFRR() -> String {
        sh("{ sha256sum /etc/frr/frr.conf /etc/frr/daemons /etc/frr/vtysh.conf; ls -1 /var/run/frr | grep -Ev '(^|-)t[0-9]+-'; } 2>/dev/null").output
    }

    /// Any of three echoes answered: the first may wait on neighbour discovery under load.
    private func ping(_ lab: TestLab, _ from: String, _ address: String) -> Bool {
        sh("ip netns exec \(lab.namespace(from)) ping -c 3 -i 0.3 -W 2 \(address)").status == 0
    }

    /// Every address answers `from`'s ping; ping's own words when one does not.
    private func expectPings(_ lab: TestLab, _ from: String, _ addresses: [String],
                             sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for address in addresses {
            let run = sh("ip netns exec \(lab.namespace(from)) ping -c 3 -i 0.3 -W 2 \(address)")
            #expect(run.status == 0, "\(from) → \(address): \(run.output)", sourceLocation: sourceLocation)
        }
    }

    private func address(_ lab: TestLab, _ node: String, family: String = "-4") -> String {
        sh("ip \(family) -n \(lab.namespace(node)) -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1").output
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func firstHop(_ lab: TestLab, _ node: String, to address: String) -> String {
        sh("ip -n \(lab.namespace(node)) route get \(address) | grep -o 'dev [^ ]*'").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func anOSPFRingConvergesReroutesAroundAFailureAndLeavesNothing() throws {
        let lab = TestLab("ospf")
        let before = hostFRR()
        defer { lab.cleanUpFRR() }
        _ = try lab.deploy("""
            addressing: { ipv4: 10.61.0.0/24, ipv6: "fd00:61::/48" }
            routing: ospf
            nodes: { r1: { kind: router }, r2: { kind: router }, r3: { kind: router }, r4: { kind: router }, h1: {}, h3: {} }
            links:
              - endpoints: [r1:eth0, r2]
              - endpoints: [r2, r3]
              - endpoints: [r3, r4]
              - endpoints: [r4, r1:eth1]
                cost: 50
              - endpoints: [h1, r1]
              - endpoints: [h3, r3]
            """)
        let first = try #require(try RoutingWait.wait(lab: lab.name, timeout: 90))
        #expect(first.converged, "pending: \(first.pending)")
        #expect(first.routers == 4)
        let h3v4 = address(lab, "h3"), h3v6 = address(lab, "h3", family: "-6")
        expectPings(lab, "h1", [h3v4, h3v6])
        // FRR's routes, with OSPF's protocol number, and the short way round (r4's link costs 50).
        #expect(sh("ip -n \(lab.namespace("r1")) route show proto ospf").output.contains("via"))
        #expect(firstHop(lab, "r1", to: h3v4) == "dev eth0")

        // The short way fails: OSPF finds the long one.
        _ = try LinkControl.setState(lab: lab.name, target: "r1:eth0", up: false)
        let failed = try #require(try RoutingWait.wait(lab: lab.name, timeout: 90))
        #expect(failed.converged, "pending: \(failed.pending)")
        #expect(firstHop(lab, "r1", to: h3v4) == "dev eth1")
        expectPings(lab, "h1", [h3v4, h3v6])
        _ = try LinkControl.setState(lab: lab.name, target: "r1:eth0", up: true)
        let restored = try #require(try RoutingWait.wait(lab: lab.name, timeout: 90))
        #expect(restored.converged)
        #expect(firstHop(lab, "r1", to: h3v4) == "dev eth0")

        // vtysh on the router, as on a real one, through nslab exec with no flag.
        let neighbours = lab.nslabExec("r2", "vtysh -c 'show ip ospf neighbor'")
        #expect(neighbours.status == 0 && neighbours.output.components(separatedBy: "Full/").count - 1 == 2)
        #expect(FileManager.default.fileExists(atPath: "/etc/frr/\(lab.namespace("r1"))/frr.conf"))

        try LabDestroyer.destroy(lab: lab.name)
        for node in ["r1", "r2", "r3", "r4"] {
            #expect(!FileManager.default.fileExists(atPath: "/etc/frr/\(lab.namespace(node))"))
            #expect(!FileManager.default.fileExists(atPath: "/var/run/frr/\(lab.namespace(node))"))
        }
        #expect(sh("pgrep -f '/usr/lib/frr/' | xargs -r -n1 sh -c 'ip netns identify $0' | grep -c '\(lab.prefix)'").output
            .trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(hostFRR() == before)
    }

    @Test func aBGPTriangleConvergesAndReroutesAroundAFailedSession() throws {
        let lab = TestLab("bgp")
        let before = hostFRR()
        defer { lab.cleanUpFRR() }
        let text = """
            addressing: { ipv4: 10.62.0.0/24, ipv6: "fd00:62::/48" }
            routing: bgp
            nodes: { a: { kind: router }, b: { kind: router, as: 64900 }, c: { kind: router }, ha: {}, hb: {} }
            links: [{ endpoints: [a:eth0, b:eth0] }, { endpoints: [b, c] }, { endpoints: [c, a] }, { endpoints: [ha, a] }, { endpoints: [hb, b] }]
            """
        _ = try lab.deploy(text)
        let result = try #require(try RoutingWait.wait(lab: lab.name, timeout: 90))
        #expect(result.converged, "pending: \(result.pending)")
        let (hb4, hb6) = (address(lab, "hb"), address(lab, "hb", family: "-6"))
        expectPings(lab, "ha", [hb4, hb6])
        #expect(sh("ip -n \(lab.namespace("a")) route show proto bgp").output.contains("via"))
        #expect(firstHop(lab, "a", to: hb4) == "dev eth0")  // one AS away, directly
        let topology = try Topology.parse(yaml: "name: \(lab.name)\nprefix: \(lab.prefix)\n" + text, file: "x")
        let b = try #require(RoutedLab(topology).node("b"))
        let sessions = RoutingState.read(b, namespace: lab.namespace("b")).neighbours
        #expect(sessions.count == 4 && sessions.allSatisfy { $0.isUp && $0.protocolName == .bgp })
        #expect(Set(sessions.map(\.interface)) == ["eth0", "eth1"])
        let summary = lab.nslabExec("b", "vtysh -c 'show bgp summary'")
        #expect(summary.output.contains("local AS number 64900"))

        // The a–b link fails: BGP learns hb's subnet through c, and back when it returns.
        _ = try LinkControl.setState(lab: lab.name, target: "a:eth0", up: false)
        let failed = try #require(try RoutingWait.wait(lab: lab.name, timeout: 90))
        #expect(failed.converged, "pending: \(failed.pending)")
        #expect(firstHop(lab, "a", to: hb4) == "dev eth1")
        expectPings(lab, "ha", [hb4, hb6])
        _ = try LinkControl.setState(lab: lab.name, target: "a:eth0", up: true)
        #expect(try RoutingWait.wait(lab: lab.name, timeout: 90)?.converged == true)
        #expect(firstHop(lab, "a", to: hb4) == "dev eth0")

        try LabDestroyer.destroy(lab: lab.name)
        #expect(!FileManager.default.fileExists(atPath: "/etc/frr/\(lab.namespace("b"))"))
        #expect(hostFRR() == before)
    }

    @Test func aConvergeAddingARouterAndARestartedRouterRunFRRAgain() throws {
        let lab = TestLab("grow")
        defer { lab.cleanUpFRR() }
        let small = """
            addressing: { ipv4: 10.64.0.0/24 }
            routing: ospf
            nodes: { r1: { kind: router }, r2: { kind: router }, h1: {} }
            links: [{ endpoints: [r1, r2] }, { endpoints: [h1, r1] }]
            """
        _ = try lab.deploy(small)
        #expect(try RoutingWait.wait(lab: lab.name, timeout: 90)?.converged == true)
        let r2Config = "/etc/frr/\(lab.namespace("r2"))/frr.conf"
        let before = try String(contentsOfFile: r2Config, encoding: .utf8)
        // r3 and its host behind r2: r2's configuration gains an interface, r3 gets FRR.
        let grown = small.replacingOccurrences(of: "h1: {} }", with: "h1: {}, r3: { kind: router }, h3: {} }")
            .replacingOccurrences(of: "{ endpoints: [h1, r1] }]", with: "{ endpoints: [h1, r1] }, { endpoints: [r2, r3] }, { endpoints: [h3, r3] }]")
        let result = try lab.deploy(grown)
        #expect(result.converged?.difference.isEmpty == false)
        #expect(try String(contentsOfFile: r2Config, encoding: .utf8) != before)
        #expect(try RoutingWait.wait(lab: lab.name, timeout: 90)?.converged == true)
        #expect(ping(lab, "h1", address(lab, "h3")))
        // A node stopped ends its daemons; started, they run again and it routes.
        _ = try NodeLifecycle.stop(lab: lab.name, node: "r2")
        #expect(!ping(lab, "h1", address(lab, "h3")))
        _ = try NodeLifecycle.start(lab: lab.name, node: "r2")
        // Configured as soon as start returns: the sockets the ended daemons left are not
        // taken for the new ones' (vtysh -b ran too early and configured nothing).
        let running = sh("vtysh -N \(lab.namespace("r2")) -c 'show running-config'").output
        #expect(running.contains("router ospf") && running.contains("ip ospf area"), "\(running)")
        #expect(try RoutingWait.wait(lab: lab.name, timeout: 90)?.converged == true)
        #expect(ping(lab, "h1", address(lab, "h3")))
    }

    @Test func inspectAndExplainSpeakOfTheProtocol() throws {
        let lab = TestLab("why")
        defer { lab.cleanUpFRR() }
        _ = try lab.deploy("""
            addressing: { ipv4: 10.65.0.0/24 }
            routing: ospf
            nodes: { r1: { kind: router }, r2: { kind: router }, r3: { kind: router }, h1: {}, h3: {} }
            links: [{ endpoints: [r1, r2] }, { endpoints: [r2, r3] }, { endpoints: [h1, r1] }, { endpoints: [h3, r3] }]
            """)
        #expect(try RoutingWait.wait(lab: lab.name, timeout: 90)?.converged == true)
        let state = try LabInspector.inspect(lab: lab.name)
        let r2 = try #require(state.nodes.first { $0.name == "r2" })
        #expect(r2.routing?.map { "\($0.protocolName.rawValue) \($0.interface) \($0.isUp)" } == ["ospf eth0 true", "ospf eth1 true"])
        #expect(state.nodes.first { $0.name == "h1" }?.routing == nil)
        #expect(r2.routes.contains { $0.protocol == "ospf" })
        let working = try Explainer.explain(lab: lab.name, from: "h1", to: "h3")
        #expect(working.explanation.reaches)
        #expect(working.explanation.forward.hops.contains { $0.node == "r1" && $0.route?.contains("proto ospf") == true })

        // r2's ospfd ends: it withdraws its routes at once, and r1's adjacency goes after the
        // dead interval (3 s).
        let pid = try String(contentsOfFile: "/var/run/frr/\(lab.namespace("r2"))/ospfd.pid", encoding: .utf8)
        #expect(kill(pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, SIGTERM) == 0)
        #expect(waitUntil(seconds: 10) {
            !sh("ip -n \(lab.namespace("r1")) route show proto ospf").output.contains("via")
        })
        var broken = try Explainer.explain(lab: lab.name, from: "h1", to: "h3")
        _ = waitUntil(seconds: 10) {
            broken = (try? Explainer.explain(lab: lab.name, from: "h1", to: "h3")) ?? broken
            return !broken.routingDown.isEmpty
        }
        #expect(!broken.explanation.reaches && broken.explanation.problem?.node == "r1")
        #expect(broken.routingDown == ["ospf on r1:eth0: no neighbour up (r2)"])
        #expect(Explainer.render(broken).contains("routing: ospf on r1:eth0: no neighbour up (r2)"))
    }

    /// `nslab script` of an OSPF lab, run by sh: FRR's files and start lines route the lab too.
    @Test func theScriptOfAnOSPFLabRunsFRRByHand() throws {
        let lab = TestLab("sh")
        let nodes = ["r1", "r2", "h1", "h2"]
        defer {
            for node in nodes { sh("ip netns pids \(lab.namespace(node)) | xargs -r kill") }
            usleep(300_000)
            for node in nodes { sh("ip netns delete \(lab.namespace(node)); rm -rf /etc/netns/\(lab.namespace(node))") }
            sh("rmdir /etc/netns 2>/dev/null; rm -rf /etc/frr/\(lab.prefix)* /var/run/frr/\(lab.prefix)*")
        }
        let topology = try Topology.parse(yaml: """
            name: \(lab.name)
            prefix: \(lab.prefix)
            addressing: { ipv4: 10.66.0.0/24 }
            routing: ospf
            nodes: { r1: { kind: router }, r2: { kind: router }, h1: {}, h2: {} }
            links: [{ endpoints: [r1, r2] }, { endpoints: [h1, r1] }, { endpoints: [h2, r2] }]
            """, file: "x.yaml")
        let script = LabScript.text(for: topology)
        #expect(script.contains("mkdir -p /etc/frr/\(lab.namespace("r1")) /var/run/frr/\(lab.namespace("r1"))"))
        let path = NSTemporaryDirectory() + "\(lab.name).sh"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let run = sh("sh \(path)")
        #expect(run.status == 0, "\(run.output)")
        #expect(waitUntil(seconds: 15) {
            sh("ip -n \(lab.namespace("r1")) route show proto ospf").output.contains("10.66.0.4/31")
        })
        // The way back (r2's route to h1) may come a moment after r1's.
        #expect(waitUntil(seconds: 15) { sh("ip netns exec \(lab.namespace("h1")) ping -c 1 -W 1 10.66.0.4").status == 0 },
                "\(sh("for n in r1 r2 h1 h2; do ip -n \(lab.prefix)$n route; ip -n \(lab.prefix)$n -br addr; done").output)")
    }

    @Test func aNodesOwnFRRConfigurationRunsAndABadOneIsRefusedBeforeAnythingChanges() throws {
        let lab = TestLab("own")
        defer { lab.cleanUpFRR() }
        let good = """
            nodes:
              r: { kind: router, frr: "ip route 10.63.9.0/24 blackhole\\n" }
              s: { kind: router }
            links: [{ endpoints: [r, s], addresses: [10.63.0.1/30, 10.63.0.2/30] }]
            """
        _ = try lab.deploy(good)
        // staticd installs the route the node's own configuration asks for.
        #expect(waitUntil(seconds: 10) { sh("ip -n \(lab.namespace("r")) route show 10.63.9.0/24").output.contains("blackhole") })
        #expect(!FileManager.default.fileExists(atPath: "/etc/frr/\(lab.namespace("s"))"))  // s runs no FRR
        try LabDestroyer.destroy(lab: lab.name)

        let bad = good.replacingOccurrences(of: "ip route 10.63.9.0/24 blackhole", with: "ip routez 10.63.9.0/24 blackhole")
        #expect {
            _ = try lab.deploy(bad)
        } throws: { error in
            "\(error)".contains("FRR does not accept its configuration") && "\(error)".contains("nothing was changed")
        }
        #expect(sh("ip netns list 2>/dev/null | grep -c '^\(lab.prefix)'").output.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(!FileManager.default.fileExists(atPath: "/etc/frr/\(lab.namespace("r"))"))
    }

    /// A changed `frr:` line is a change `diff` lists (exit 1) and `deploy` prints and applies;
    /// a daemon killed by hand is one too; a node that stops running FRR, or is removed, loses
    /// its FRR directories, and the lab then matches its file.
    @Test func frrChangesAreListedByDiffAndAppliedByDeploy() throws {
        let lab = TestLab("frrdiff")
        let file = "/tmp/\(lab.name).yaml"
        defer { lab.cleanUpFRR(); unlink(file) }
        func body(_ route: String?, extra: Bool = false) -> String {
            let frr = route.map { ", frr: \"ip route \($0) blackhole\\n\"" } ?? ""
            return "name: \(lab.name)\nprefix: \(lab.prefix)\nnodes:\n  r: { kind: router\(frr) }\n  s: { kind: router }\n"
                + (extra ? "  q: { kind: router, frr: \"!\\n\" }\n" : "")
                + "links: [{ endpoints: [r, s], addresses: [10.63.0.1/30, 10.63.0.2/30] }"
                + (extra ? ", { endpoints: [q, s], addresses: [10.63.0.5/30, 10.63.0.6/30] }" : "") + "]\n"
        }
        func diff(_ text: String) throws -> (status: Int32, output: String) {
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return sh("\(nslabBinary) diff \(file)")
        }
        let r = lab.namespace("r")
        func zebra() -> String { sh("pgrep -f '^/usr/lib/frr/zebra' | while read p; do [ \"$(ip netns identify $p)\" = \(r) ] && echo $p; done").output }

        let plan = try diff(body("10.63.9.0/24"))
        #expect(plan.status == 1 && plan.output.contains("+ frr r (zebra, staticd)"), "\(plan.output)")
        #expect(sh("\(nslabBinary) deploy -q \(file)").status == 0)
        #expect(waitUntil(seconds: 10) { sh("ip -n \(r) route show 10.63.9.0/24").output.contains("blackhole") })
        #expect(try diff(body("10.63.9.0/24")).status == 0)
        let firstZebra = zebra()

        let changed = try diff(body("10.63.8.0/24"))
        #expect(changed.status == 1 && changed.output.contains("~ frr r frr.conf"), "\(changed.output)")
        let json = sh("\(nslabBinary) diff --json \(file)")
        let records = try JSONDecoder().decode([ChangeRecord].self, from: Data(json.output.utf8))
        #expect(records == [ChangeRecord(operation: .change, object: "frr", node: "r", text: "frr r frr.conf")], "\(json.output)")
        let deploy = sh("\(nslabBinary) deploy -q \(file)")
        #expect(deploy.status == 0 && deploy.output.contains("~ frr r frr.conf"), "\(deploy.output)")
        #expect(waitUntil(seconds: 10) { sh("ip -n \(r) route show 10.63.8.0/24").output.contains("blackhole") })
        #expect(zebra() != firstZebra && !zebra().isEmpty, "r's FRR was started again")
        #expect(try diff(body("10.63.8.0/24")).status == 0)

        // staticd killed by hand: named, and started again by deploy.
        sh("for p in $(ip netns pids \(r)); do grep -q staticd /proc/$p/cmdline && kill $p; done")
        #expect(waitUntil { try! diff(body("10.63.8.0/24")).output.contains("~ frr r running zebra → zebra staticd") })
        #expect(sh("\(nslabBinary) deploy -q \(file)").status == 0)
        #expect(try diff(body("10.63.8.0/24")).status == 0)

        // A router with FRR added, then removed with its node; r's own frr: removed too.
        let grown = try diff(body("10.63.8.0/24", extra: true))
        #expect(grown.output.contains("+ frr q (zebra, staticd)"), "\(grown.output)")
        #expect(sh("\(nslabBinary) deploy -q \(file)").status == 0)
        #expect(FileManager.default.fileExists(atPath: "/etc/frr/\(lab.namespace("q"))/frr.conf"))
        let shrunk = try diff(body(nil))
        #expect(shrunk.output.contains("- frr r") && shrunk.output.contains("- node q"), "\(shrunk.output)")
        #expect(!shrunk.output.contains("frr q"), "q's FRR goes with q: \(shrunk.output)")
        #expect(sh("\(nslabBinary) deploy -q \(file)").status == 0)
        for gone in ["/etc/frr/\(r)", "/var/run/frr/\(r)", "/etc/frr/\(lab.namespace("q"))", "/var/run/frr/\(lab.namespace("q"))"] {
            #expect(!FileManager.default.fileExists(atPath: gone), "\(gone) removed")
        }
        #expect(zebra().isEmpty)
        #expect(try diff(body(nil)).status == 0, "nothing pending once r's FRR is gone")
        // And back: its directories are made again.
        #expect(try diff(body("10.63.7.0/24")).output.contains("+ frr r (zebra, staticd)"))
        #expect(sh("\(nslabBinary) deploy -q \(file)").status == 0)
        #expect(waitUntil(seconds: 10) { sh("ip -n \(r) route show 10.63.7.0/24").output.contains("blackhole") })
        #expect(try diff(body("10.63.7.0/24")).status == 0)

        // A stopped node's FRR is left as it is (not running), and comes back with the node.
        #expect(sh("\(nslabBinary) node \(lab.name) r stop").status == 0)
        #expect(zebra().isEmpty)
        let stopped = try diff(body("10.63.7.0/24"))
        #expect(stopped.status == 0, "\(stopped.output)")
        #expect(sh("\(nslabBinary) node \(lab.name) r start").status == 0)
        #expect(!zebra().isEmpty)
        #expect(waitUntil(seconds: 10) { sh("ip -n \(r) route show 10.63.7.0/24").output.contains("blackhole") })
        #expect(try diff(body("10.63.7.0/24")).status == 0)
    }

    /// A converge that restarted a router's FRR with a new configuration and then failed (a
    /// command whose program is gone by the time it starts) puts the old configuration back and
    /// runs it again.
    @Test func aFailedConvergeStartsTheFormerFRRAgain() throws {
        let lab = TestLab("frrundo")
        defer { lab.cleanUpFRR() }
        let body = { (route: String, command: String) in
            "name: \(lab.name)\nprefix: \(lab.prefix)\nnodes:\n  r: { kind: router, frr: \"ip route \(route) blackhole\\n\" }\n"
                + "  s: { kind: router\(command) }\nlinks: [{ endpoints: [r, s], addresses: [10.63.0.1/30, 10.63.0.2/30] }]\n"
        }
        let before = body("10.63.9.0/24", "")
        _ = try LabDeployer.deploy(try Topology.parse(yaml: before, file: "\(lab.name).yaml"), sourceText: before)
        let r = lab.namespace("r")
        #expect(waitUntil(seconds: 10) { sh("ip -n \(r) route show 10.63.9.0/24").output.contains("blackhole") })
        let config = "/etc/frr/\(r)/frr.conf"
        let oldConfig = try String(contentsOfFile: config, encoding: .utf8)

        // Deploy checks the programs of commands before it changes anything; converging alone
        // meets the missing one only when it starts it, after FRR.
        let after = body("10.63.8.0/24", ", commands: [[/nonexistent/\(lab.name)]]")
        let topology = try Topology.parse(yaml: after, file: "\(lab.name).yaml")
        let planned = try LabConverger.difference(topology).changes.map(\.line)
        #expect(planned.contains("~ frr r frr.conf") && planned.contains("+ command s: /nonexistent/\(lab.name)"), "\(planned)")
        #expect(throws: LabError.self) {
            _ = try LabConverger.converge(topology, sourceText: after, record: try LabRecord(lab: lab.name, create: false),
                                          options: ConvergeOptions(), progress: { _ in })
        }
        #expect(try String(contentsOfFile: config, encoding: .utf8) == oldConfig)
        #expect(waitUntil(seconds: 10) { sh("ip -n \(r) route show 10.63.9.0/24").output.contains("blackhole") },
                "the former configuration runs")
        #expect(!sh("ip -n \(r) route show 10.63.8.0/24").output.contains("blackhole"))
        let back = try LabConverger.difference(try Topology.parse(yaml: before, file: "\(lab.name).yaml"))
        #expect(back.isEmpty, "\(back.changes.map(\.line))")
    }

    /// FRR files of a node whose lab's record is gone (a crash, a removed /run): doctor finds
    /// them by the daemons file nslab writes, and removes them with the node's run directory.
    @Test func doctorFindsAndRemovesFRRFilesNoRecordLists() throws {
        let lab = TestLab("doc")
        defer { lab.cleanUpFRR() }
        let (etc, run) = ("/etc/frr/\(lab.namespace("r"))", "/var/run/frr/\(lab.namespace("r"))")
        #expect(mkdir(etc, 0o750) == 0 && mkdir(run, 0o750) == 0)
        try "\(FRRConfig.daemonsFileHeader)\(lab.name), node r: the daemons nslab runs there.\nospfd=yes\n"
            .write(toFile: "\(etc)/daemons", atomically: true, encoding: .utf8)
        try "frr defaults traditional\n".write(toFile: "\(etc)/frr.conf", atomically: true, encoding: .utf8)
        try "1234\n".write(toFile: "\(run)/zebra.pid", atomically: true, encoding: .utf8)
        let finding = try #require(Doctor.examine().first { $0.subject == etc })
        #expect(finding.kind == .frrFilesWithoutRecord && finding.lab == lab.name)
        try Doctor.fix(finding)
        #expect(!FileManager.default.fileExists(atPath: etc) && !FileManager.default.fileExists(atPath: run))
        // A directory of the host's own FRR (no nslab daemons file) is not nslab's.
        #expect(mkdir(etc, 0o750) == 0)
        try "bgpd=yes\n".write(toFile: "\(etc)/daemons", atomically: true, encoding: .utf8)
        #expect(!Doctor.examine().contains { $0.subject == etc })
    }

    @Test func anFRRDirectoryNslabDidNotMakeIsRefused() throws {
        let lab = TestLab("taken")
        defer { lab.cleanUpFRR() }
        #expect(mkdir("/etc/frr/\(lab.namespace("r"))", 0o755) == 0)
        #expect {
            _ = try lab.deploy("""
                nodes: { r: { kind: router, frr: "!\\n" } }
                """)
        } throws: { error in
            "\(error)".contains("/etc/frr/\(lab.namespace("r")) (FRR of node r) already exists and nslab did not make it")
        }
        #expect(sh("ip netns list 2>/dev/null | grep -c '^\(lab.prefix)'").output.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        #expect(FileManager.default.fileExists(atPath: "/etc/frr/\(lab.namespace("r"))"))  // someone else's, kept
    }
}

extension TestLab {
    /// cleanUpEverything(), plus the FRR directories of a lab a failed test left.
    func cleanUpFRR() {
        cleanUpEverything()
        sh("rm -rf /etc/frr/\(prefix)* /var/run/frr/\(prefix)*")
    }
}
