import CShims
import Foundation
import NetAddress
import Testing
@testable import Lab
import Topology

/// `deploy` on a deployed lab: only what differs changes, hand-made drift is repaired, a failure
/// half-way is undone, and nodes stop and start.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct ConvergeTests {
    /// Two hosts and a router; a runs a command (a list: one process, no shell in between).
    static let small = """
        nodes:
          a: { routes: [default via 10.1.0.2], commands: [[sleep, "600"]] }
          r: { kind: router }
          b: { routes: [default via 10.2.0.2] }
        links:
          - { endpoints: [a:eth0, r:ra], addresses: [10.1.0.1/24, 10.1.0.2/24] }
          - { endpoints: [b:eth0, r:rb], addresses: [10.2.0.1/24, 10.2.0.2/24] }

        """

    /// The same with a third host on the router, a smaller MTU on b's link and b's route gone.
    static let grown = """
        nodes:
          a: { routes: [default via 10.1.0.2], commands: [[sleep, "600"]] }
          r: { kind: router }
          b: { routes: [default via 10.2.0.2] }
          c: { routes: [default via 10.3.0.2] }
        links:
          - { endpoints: [a:eth0, r:ra], addresses: [10.1.0.1/24, 10.1.0.2/24] }
          - { endpoints: [b:eth0, r:rb], addresses: [10.2.0.1/24, 10.2.0.2/24], mtu: 1400 }
          - { endpoints: [c:eth0, r:rc], addresses: [10.3.0.1/24, 10.3.0.2/24] }

        """

    struct Identity: Equatable {
        var inode: String
        var link: String
        var commandPID: String
    }

    static func identity(_ lab: TestLab, _ node: String) -> Identity {
        Identity(inode: sh("stat -L -c %i /run/netns/\(lab.namespace(node))").output,
                 // stderr aside: ip warns "Peer netns reference is invalid" while other tests' namespaces go.
                 link: sh("ip -n \(lab.namespace(node)) -o link show eth0 2>/dev/null | cut -d' ' -f1-2,17-").output,
                 commandPID: sh("ip netns pids \(lab.namespace(node))").output)
    }

    func texts(_ result: DeployResult) -> [String] { result.converged?.difference.changes.map(\.line) ?? [] }

    @Test func addingAndRemovingANodeLeavesTheRestUntouched() throws {
        let lab = TestLab("grow")
        defer { lab.cleanUp() }
        let first = try lab.deploy(Self.small)
        #expect(first.converged == nil)
        let before = Self.identity(lab, "a")
        #expect(!before.commandPID.isEmpty, "a's command runs")
        let neighbour = lab.exec("a", "ping -c 1 -W 2 10.2.0.1")
        #expect(neighbour.status == 0, "\(neighbour.output)")
        let arp = lab.exec("a", "ip neigh show dev eth0").output

        let grown = try lab.deploy(Self.grown)
        let lines = texts(grown)
        #expect(lines.contains("+ node c (host)"), "\(lines)")
        #expect(lines.contains("+ link c:eth0 -- r:rc"), "\(lines)")
        #expect(lines.contains("~ link b:eth0 mtu 1500 → 1400"), "\(lines)")
        #expect(lines.contains("+ route default via 10.3.0.2 on c"), "\(lines)")
        // Of a, only its hosts file changes (it names c now).
        let aboutA = lines.filter { $0.contains(" a:") || $0.hasSuffix(" on a") || $0.contains("command") }
        #expect(aboutA == ["~ file a:/etc/hosts"], "\(lines)")
        #expect(Self.identity(lab, "a") == before, "a keeps its namespace, interface and process")
        #expect(lab.exec("a", "ip neigh show dev eth0").output == arp, "a's neighbour entries are kept")
        #expect(lab.exec("a", "ping -c 1 -W 2 10.3.0.1").status == 0, "a reaches the new node")
        #expect(lab.exec("c", "cat /etc/hosts").output.contains("10.1.0.1\ta a-eth0"))
        #expect(lab.exec("a", "cat /etc/hosts").output.contains("10.3.0.1\tc c-eth0"), "every hosts file names c")
        #expect(sh("ip -n \(lab.namespace("b")) link show eth0").output.contains("mtu 1400"))

        let again = try lab.deploy(Self.grown)
        #expect(again.unchanged, "\(texts(again))")

        let shrunk = try lab.deploy(Self.small)
        #expect(texts(shrunk).contains("- node c"), "\(texts(shrunk))")
        #expect(!lab.namespaces().contains(lab.namespace("c")))
        #expect(!FileManager.default.fileExists(atPath: "/etc/netns/\(lab.namespace("c"))"))
        #expect(Self.identity(lab, "a") == before)
        #expect(try LabConverger.difference(try lab.topology(Self.small)).isEmpty)
    }

    @Test func driftIsNamedAndRepairedAndForeignThingsNeedPrune() throws {
        let lab = TestLab("drift")
        defer { lab.cleanUp() }
        _ = try lab.deploy(Self.small)
        let a = lab.namespace("a"), r = lab.namespace("r"), b = lab.namespace("b")
        sh("ip -n \(a) address del 10.1.0.1/24 dev eth0")
        sh("ip -n \(r) link set rb down")
        sh("for p in $(ip netns pids \(a)); do kill $p; done")
        sh("echo '# by hand' >> /etc/netns/\(b)/hosts")
        sh("ip -n \(b) address add 10.99.0.1/32 dev eth0")
        sh("ip -n \(b) route add 10.98.0.0/16 via 10.2.0.2")
        usleep(200_000)

        let difference = try LabConverger.difference(try lab.topology(Self.small))
        let lines = difference.changes.map(\.line)
        for expected in ["+ address 10.1.0.1/24 on a:eth0", "+ route default via 10.1.0.2 on a", "~ link r:rb state down → up",
                         "+ command a: sleep 600", "~ file b:/etc/hosts"] {
            #expect(lines.contains(expected), "missing \(expected) in \(lines)")
        }
        let foreign = difference.foreign.map(\.line)
        #expect(foreign.contains("- address 10.99.0.1/32 on b:eth0"), "\(foreign)")
        #expect(foreign.contains("- route 10.98.0.0/16 via 10.2.0.2 dev eth0 on b"), "\(foreign)")
        #expect(!lines.contains { $0.contains("10.99.0.1") || $0.contains("10.98.0.0") }, "foreign things stay without --prune")

        _ = try lab.deploy(Self.small)
        #expect(try LabConverger.difference(try lab.topology(Self.small)).isEmpty)
        #expect(lab.exec("a", "ping -c 1 -W 2 10.2.0.1").status == 0)
        #expect(!sh("ip netns pids \(a)").output.isEmpty, "the command runs again")
        #expect(!(try String(contentsOfFile: "/etc/netns/\(b)/hosts", encoding: .utf8)).contains("by hand"))
        #expect(sh("ip -n \(b) -4 address show dev eth0").output.contains("10.99.0.1"), "kept without --prune")

        _ = try lab.deploy(Self.small, options: ConvergeOptions(prune: true))
        #expect(!sh("ip -n \(b) -4 address show dev eth0").output.contains("10.99.0.1"))
        #expect(!sh("ip -n \(b) route").output.contains("10.98.0.0"))
        let pruned = try LabConverger.difference(try lab.topology(Self.small))
        #expect(pruned.isEmpty && pruned.foreign.isEmpty, "\(pruned.records)")
    }

    @Test func aRefusalHalfWayPutsTheLabBack() throws {
        let lab = TestLab("undo")
        defer { lab.cleanUp() }
        _ = try lab.deploy(Self.small)
        let before = SeedComparisonTests.state(of: lab.namespace("r"))
        let hostsBefore = try String(contentsOfFile: "/etc/netns/\(lab.namespace("a"))/hosts", encoding: .utf8)
        // The new link and its addresses go in; then the kernel refuses r's route through a
        // gateway that is the new subnet's broadcast address (only the kernel checks that).
        let broken = Self.grown.replacingOccurrences(of: "  r: { kind: router }", with: "  r: { kind: router, routes: [10.7.0.0/16 via 10.3.0.255] }")
        #expect(throws: LabError.self) { _ = try lab.deploy(broken) }
        #expect(!lab.namespaces().contains(lab.namespace("c")), "the new node is removed again")
        #expect(SeedComparisonTests.state(of: lab.namespace("r")) == before)
        #expect(try String(contentsOfFile: "/etc/netns/\(lab.namespace("a"))/hosts", encoding: .utf8) == hostsBefore)
        #expect(try LabConverger.difference(try lab.topology(Self.small)).isEmpty, "the lab is as the old file says")
        // And the fixed file converges.
        _ = try lab.deploy(Self.grown)
        #expect(try LabConverger.difference(try lab.topology(Self.grown)).isEmpty)
    }

    @Test func linkAndNodeStatesSurviveADeployUntilReset() throws {
        let lab = TestLab("states")
        defer { lab.cleanUp() }
        _ = try lab.deploy(Self.small)
        try LinkControl.setState(lab: lab.name, target: "a:eth0", up: false)
        #expect(try lab.deploy(Self.small).unchanged, "the link stays down")
        _ = try NodeLifecycle.stop(lab: lab.name, node: "b")
        let r = lab.namespace("r"), b = lab.namespace("b")
        #expect(sh("ip -n \(b) -o link show eth0").output.contains("state DOWN"))
        #expect(sh("ip -n \(r) -o link show rb").output.contains("NO-CARRIER"), "its neighbour sees the carrier go")
        #expect(try lab.deploy(Self.small).unchanged, "the node stays stopped")
        #expect(try LabInspector.inspect(lab: lab.name).nodes.first { $0.name == "b" }?.stopped == true)
        let picture = sh("\(nslabBinary) graph \(lab.name)").output
        #expect(picture.contains("[b] STOPPED"), "\(picture)")
        #expect(sh("\(nslabBinary) inspect \(lab.name)").output.contains("STOPPED"))

        let started = try NodeLifecycle.start(lab: lab.name, node: "b")
        #expect(started.interfaces == ["eth0"])
        #expect(sh("ip -n \(b) route").output.contains("default via 10.2.0.2"), "its routes are back")
        #expect(try lab.deploy(Self.small).unchanged)

        let reset = try lab.deploy(Self.small, options: ConvergeOptions(reset: true))
        #expect(texts(reset).contains("~ link a:eth0 state down → up"), "\(texts(reset))")
        #expect(lab.exec("a", "ping -c 1 -W 2 10.2.0.1").status == 0)
    }

    @Test func stoppingANodeEndsItsProcessesAndStartingRunsThemAgain() throws {
        let lab = TestLab("stopstart")
        defer { lab.cleanUp() }
        _ = try lab.deploy(Self.small)
        let a = lab.namespace("a")
        let before = sh("ip netns pids \(a)").output
        #expect(!before.isEmpty)
        let stopped = try NodeLifecycle.stop(lab: lab.name, node: "a")
        #expect(stopped.processesEnded >= 1)
        #expect(sh("ip netns pids \(a)").output.isEmpty)
        let started = try NodeLifecycle.start(lab: lab.name, node: "a")
        #expect(started.processesStarted == 1)
        let after = sh("ip netns pids \(a)").output
        #expect(!after.isEmpty && after != before)
        #expect(lab.exec("a", "ping -c 1 -W 2 10.2.0.1").status == 0)
    }

    /// /proc/self/mounts is read to its end: Foundation's reader stopped at 4 KiB, and a converge
    /// then stacked a second tmpfs over a lab's host names, which destroy could not see to remove.
    @Test func procFilesAreReadToTheirEnd() throws {
        let maps = try #require(NodeEnvironment.readWhole("/proc/self/maps"))
        #expect(maps.utf8.count > 4096, "the test process maps more than a page's worth of lines")
        #expect(maps.hasSuffix("\n"))
        let mounts = try #require(NodeEnvironment.readWhole("/proc/self/mounts"))
        #expect(mounts.contains(" /proc proc "))
    }

    /// examples/lan.yaml converged to a spanning-tree switch with one more host on the other:
    /// the bridge is made again with its ports back on it, and every node is as a fresh deploy
    /// of the edited file makes it.
    @Test func switchesConvergeAsAFreshDeployBuildsThem() throws {
        let lab = TestLab("lanconv")
        let fresh = TestLab("lanfresh")
        let giveBackEtcNetns = borrowEtcNetns()
        defer { lab.cleanUp(); fresh.cleanUp(); giveBackEtcNetns() }
        let lan = exampleBody("lan.yaml")
        let edited = lan.replacingOccurrences(of: "  sw1: { kind: bridge }", with: "  sw1: { kind: bridge, stp: true }")
            .replacingOccurrences(of: "  b2:\n", with: "  b2:\n  b3:\n")
            + "\n  - { endpoints: [b3, sw2], addresses: [10.2.0.3/24, ~] }\n"
        _ = try lab.deploy(lan)
        let changes = texts(try lab.deploy(edited))
        #expect(changes.contains("+ interface sw1:br0 (bridge, stp on)"), "\(changes)")
        #expect(changes.contains("~ link sw1:eth0 master none → br0"), "\(changes)")
        #expect(!changes.contains { $0.contains("sw2:br0") }, "sw2's bridge is kept: \(changes)")
        _ = try fresh.deploy(edited)
        for node in ["sw1", "sw2", "a1", "gw", "b1", "b3"] {
            let differences = NodeComparison.differences(lab.namespace(node), fresh.namespace(node), labs: (lab.name, fresh.name))
            #expect(differences.isEmpty, "\(node): \(differences)")
        }
        // sw1 now runs STP (its ports forward after 30 s); sw2 forwards at once.
        #expect(lab.exec("b3", "ping -c 1 -W 2 10.2.0.1").status == 0)
        _ = try lab.deploy(lan)
        #expect(try LabConverger.difference(try lab.topology(lan)).isEmpty)
    }

    /// `flap:` schedules converge: one added starts, one changed starts again, one removed ends;
    /// an unchanged one is left as it runs; a failure later in the run puts an ended one back.
    @Test func flapSchedulesAreStartedChangedAndEndedByConverging() throws {
        let lab = TestLab("flapconv")
        defer { lab.cleanUp() }
        let flapping = { (after: String) in
            Self.small.replacingOccurrences(of: "addresses: [10.1.0.1/24, 10.1.0.2/24] }",
                                            with: "addresses: [10.1.0.1/24, 10.1.0.2/24], flap: { down-after: \(after), down-for: 1 } }")
        }
        func flaps() throws -> [ProcessState] {
            try LabInspector.inspect(lab: lab.name).nodes.flatMap { $0.processes ?? [] }.filter { $0.origin == "flap" && $0.running }
        }
        _ = try lab.deploy(Self.small)
        let started = texts(try lab.deploy(flapping("600")))
        #expect(started == ["+ flap a:eth0 down-after 600s down-for 1s"], "\(started)")
        let first = try #require(try flaps().first)
        #expect(try flaps().count == 1 && first.command.contains("a:eth0"))
        #expect(try lab.deploy(flapping("600")).unchanged, "an unchanged schedule keeps running")
        #expect(try flaps().map(\.pid) == [first.pid])

        let changed = texts(try lab.deploy(flapping("500")))
        #expect(changed == ["~ flap a:eth0 schedule → down-after 500s down-for 1s"], "\(changed)")
        #expect(waitUntil { !isAlive(first.pid) }, "the old schedule ended")
        let second = try #require(try flaps().first)
        #expect(try flaps().count == 1 && second.pid != first.pid && second.command.contains("500.0"))

        // Ended by a run that fails later (the route refused, as in aRefusalHalfWayPutsTheLabBack):
        // put back, from its beginning.
        let broken = Self.small.replacingOccurrences(of: "  r: { kind: router }", with: "  r: { kind: router, routes: [10.7.0.0/16 via 10.1.0.255] }")
        let refused = try LabConverger.difference(try lab.topology(broken)).changes.map(\.line)
        #expect(refused.contains { $0.hasPrefix("- flap a: nslab link \(lab.name) a:eth0 flap") && $0.hasSuffix("(pid \(second.pid))") }, "\(refused)")
        #expect(throws: LabError.self) { _ = try lab.deploy(broken) }
        #expect(!isAlive(second.pid))
        let restored = try #require(try flaps().first)
        #expect(restored.command == second.command && restored.pid != second.pid)
        #expect(try LabConverger.difference(try lab.topology(flapping("500"))).isEmpty)

        let ended = texts(try lab.deploy(Self.small))
        #expect(ended.count == 1 && ended[0].hasPrefix("- flap a: "), "\(ended)")
        #expect(waitUntil { !isAlive(restored.pid) })
        #expect(try flaps().isEmpty)
        #expect(try lab.deploy(Self.small).unchanged)
        #expect(sh("ip -n \(lab.namespace("a")) -o link show eth0").output.contains("state UP"), "the link is left up")
    }

    @Test func diffOfALabNotDeployedIsTheWholeDeploy() throws {
        let lab = TestLab("plan")
        defer { lab.cleanUp() }
        let difference = try LabConverger.difference(try lab.topology(Self.small))
        let lines = difference.changes.map(\.line)
        #expect(lines.prefix(3) == ["+ node a (host)", "+ node r (router)", "+ node b (host)"], "\(lines)")
        #expect(lines.contains("+ link a:eth0 -- r:ra"))
        #expect(lines.contains("+ command a: sleep 600"))
        #expect(lab.namespaces().isEmpty, "diff changes nothing")
    }

    @Test func theCommandLineShowsThePlanAndExitsAsGitDiffDoes() throws {
        let lab = TestLab("cli")
        defer { lab.cleanUp() }
        let file = "/tmp/\(lab.name).yaml"
        defer { unlink(file) }
        try ("name: \(lab.name)\nprefix: \(lab.prefix)\n" + Self.small).write(toFile: file, atomically: true, encoding: .utf8)
        #expect(sh("\(nslabBinary) diff \(file)").status == 1)
        #expect(sh("\(nslabBinary) deploy -q \(file)").status == 0)
        let same = sh("\(nslabBinary) diff \(file)")
        #expect(same.status == 0 && same.output.contains("matches"), "\(same.output)")
        try ("name: \(lab.name)\nprefix: \(lab.prefix)\n" + Self.grown).write(toFile: file, atomically: true, encoding: .utf8)
        let pending = sh("\(nslabBinary) diff --json \(file)")
        #expect(pending.status == 1)
        let records = try JSONDecoder().decode([ChangeRecord].self, from: Data(pending.output.utf8))
        #expect(records.contains(ChangeRecord(operation: .add, object: "node", node: "c", text: "node c (host)")))
        let converge = sh("\(nslabBinary) deploy -q \(file)")
        #expect(converge.status == 0 && converge.output.contains("+ node c (host)") && converge.output.contains("converged"),
                "\(converge.output)")
        #expect(sh("\(nslabBinary) diff nonexistent.yaml").status == 2)
    }
}

extension TestLab {
    func topology(_ body: String) throws -> Topology {
        try Topology.parse(yaml: "name: \(name)\nprefix: \(prefix)\n" + body, file: "\(name).yaml")
    }

    func deploy(_ body: String, options: ConvergeOptions) throws -> DeployResult {
        let text = "name: \(name)\nprefix: \(prefix)\n" + body
        return try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(name).yaml"), sourceText: text, options: options)
    }
}
