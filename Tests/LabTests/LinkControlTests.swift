import CShims
import Foundation
import Testing
@testable import Lab
import Topology
import TestSupport

/// Whether this kernel has netem: some (microVM, cloud) kernels are built without it, and then
/// delay, loss and the like cannot be tested, only refused.
let kernelHasNetem: Bool = {
    let config = sh("zcat /proc/config.gz 2>/dev/null | grep -E '^CONFIG_NET_SCH_NETEM=' || true").output
    if !config.isEmpty { return true }
    return FileManager.default.fileExists(atPath: "/sys/module/sch_netem")
}()

private let pairBody = """
    nodes: { a: {}, b: {} }
    links:
      - endpoints: [a:eth0, b:eth0]
        addresses: [10.77.0.1/24, 10.77.0.2/24]

    """

/// A ping from a to b (pairBody) in the background, `interval` seconds apart, until `stop()`
/// or `end()` (at most two minutes): tests wait for what they need to see in it rather than giving it a fixed
/// length, since the steps in between take seconds longer on a slow machine (a VM without KVM).
private struct BackgroundPing {
    let log: String
    let pid: Int32

    init(_ lab: TestLab, interval: String) {
        log = "/tmp/\(lab.name)-ping.log"
        // `ip netns exec` execs ping in place: $! is ping's pid.
        pid = Int32(trimmed(sh("ip netns exec \(lab.namespace("a")) ping -n -i \(interval) -w 120 -W 1 10.77.0.2"
                               + " > \(log) 2>&1 & echo $!").output)) ?? 0
    }

    /// The sequence numbers that got a reply so far, in order.
    func replies() -> [Int] {
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return output.split(separator: "\n").compactMap { line -> Int? in
            guard line.contains("bytes from"), let seq = line.split(separator: " ").first(where: { $0.hasPrefix("icmp_seq=") })
            else { return nil }
            return Int(seq.dropFirst("icmp_seq=".count))
        }
    }

    /// The length of each run of sequence numbers without a reply, between the first reply and the last.
    func gaps() -> [Int] {
        // By sequence number: ping prints replies as they arrive, and one held up while the
        // link was down can come after later ones (seen in the VM: 27, 58, 46, 47, …).
        let seen = Set(replies()).sorted()
        return zip(seen, seen.dropFirst()).map { $1 - $0 - 1 }.filter { $0 > 0 }
    }

    /// Waits for a reply numbered above every one so far, then ends the ping.
    func stopAfterAReply() -> Bool {
        let last = replies().max() ?? 0
        let replied = waitUntil(seconds: 10) { (replies().max() ?? 0) > last }
        stop()
        return replied
    }

    func stop() {
        guard pid > 0, isAlive(pid) else { return }
        kill(pid, SIGINT)
        _ = waitUntil { !isAlive(pid) }
    }

    /// Stops it and removes its log.
    func end() {
        stop()
        try? FileManager.default.removeItem(atPath: log)
    }
}

@Suite(.enabled(if: isRoot, "needs root: creates namespaces and veth pairs"), .serialized)
struct LinkControlTests {
    func link(_ lab: TestLab, _ arguments: String) -> (status: Int32, output: String) {
        sh("\(nslabBinary) link \(lab.name) \(arguments) 2>&1")
    }

    func interfaceState(_ lab: TestLab, _ node: String) throws -> InterfaceState {
        let state = try LabInspector.inspect(lab: lab.name)
        let found = state.nodes.first { $0.name == node }?.interfaces.first { $0.name == "eth0" }
        return try #require(found)
    }

    /// A ping running across the link while it goes down (by naming the other end) and up:
    /// replies before, none while down, replies again after.
    @Test func pingAcrossALinkWhileItGoesDownAndUp() throws {
        let lab = TestLab("linkdown")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        // 0.2 s apart: down at about 1.5 s, up again after the checks in between.
        let ping = BackgroundPing(lab, interval: "0.2")
        defer { ping.end() }
        usleep(1_500_000)
        #expect(link(lab, "b:eth0 down").status == 0)
        #expect(try interfaceState(lab, "a").up == false, "naming b's end takes a's end down too")
        #expect(try interfaceState(lab, "b").up == false)
        #expect(lab.exec("a", "ping -n -c 2 -W 1 10.77.0.2").status != 0, "100% loss while down")
        usleep(1_000_000)
        #expect(link(lab, "a:eth0 up").status == 0)
        #expect(try interfaceState(lab, "a").up && interfaceState(lab, "b").up)
        #expect(waitUntil(seconds: 10) { !ping.gaps().isEmpty }, "replies again after the link came back up")
        let replies = ping.replies(), gaps = ping.gaps()
        #expect(replies.contains { $0 <= 5 }, "replies before the link went down: \(replies)")
        #expect(gaps.count == 1 && gaps[0] >= 5, "one gap while the link was down: \(replies)")
        #expect(lab.exec("a", "ping -n -c 2 -W 1 10.77.0.2").status == 0)
    }

    @Test func aLinkDeclaredDownIsCreatedDownAndComesUp() throws {
        let lab = TestLab("declareddown")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody.replacingOccurrences(of: "    addresses:", with: "    state: down\n    addresses:"))
        #expect(try interfaceState(lab, "a").up == false)
        #expect(try interfaceState(lab, "b").up == false)
        #expect(lab.exec("a", "ping -n -c 1 -W 1 10.77.0.2").status != 0)
        #expect(link(lab, "b:eth0 up").status == 0)
        #expect(waitUntil { lab.exec("a", "ping -n -c 1 -W 1 10.77.0.2").status == 0 })
    }

    /// Down takes routes, IPv6 addresses and permanent neighbour entries away in the kernel;
    /// up must give the lab back exactly as it was, read with iproute2 before and after, on the
    /// router of the chain and the host behind it, for a link named by either end, and for a
    /// link declared down in the file that has routes through it.
    @Test func upGivesBackTheRoutesAddressesAndNeighboursThatDownTookAway() throws {
        let body = """
            neighbours: static
            nodes:
              a: { routes: [default via 10.1.0.254, "default via fd01::fe"] }
              r: { kind: router, routes: ["10.9.0.0/16 via 10.2.0.1"] }
              b: { routes: [default via 10.2.0.254, "default via fd02::fe"] }
            links:
              - { endpoints: [a, r], addresses: [[10.1.0.1/24, fd01::1/64], [10.1.0.254/24, fd01::fe/64]] }
              - { endpoints: [r, b], addresses: [[10.2.0.254/24, fd02::fe/64], [10.2.0.1/24, fd02::1/64]] }

            """
        func configuration(_ lab: TestLab) -> String {
            ["a", "r", "b"].map { node in
                let ns = lab.namespace(node)
                return sh("ip -n \(ns) route; ip -n \(ns) -6 route | grep -v fe80; ip -n \(ns) -br addr; ip -n \(ns) neigh show nud permanent").output
            }.joined(separator: "\n")
        }
        let lab = TestLab("linkrestore")
        defer { lab.cleanUp() }
        try lab.deploy(body)
        let before = configuration(lab)
        #expect(before.contains("10.9.0.0/16 via 10.2.0.1") && before.contains("default via fd02::fe") && before.contains("PERMANENT"))
        for (down, up) in [("r:eth1", "b:eth0"), ("b:eth0", "b:eth0")] {
            #expect(link(lab, "\(down) down").status == 0)
            let whileDown = sh("ip -n \(lab.namespace("b")) route; ip -n \(lab.namespace("b")) -6 addr show scope global").output
            #expect(!whileDown.contains("default via") && !whileDown.contains("fd02::1"), "the kernel forgot them: \(whileDown)")
            #expect(link(lab, "\(up) up").status == 0)
            #expect(configuration(lab) == before, "after \(down) down, \(up) up")
        }
        #expect(lab.exec("a", "ping -n -c 1 -W 2 10.2.0.1").status == 0)
        #expect(lab.exec("a", "ping -n -c 1 -W 2 fd02::1").status == 0)

        let declared = TestLab("linkrestoredeclared")
        defer { declared.cleanUp() }
        try declared.deploy(body.replacingOccurrences(of: "addresses: [[10.2.0.254/24", with: "state: down, addresses: [[10.2.0.254/24"))
        #expect(declared.exec("a", "ping -n -c 1 -W 1 10.2.0.1").status != 0)
        #expect(link(declared, "r:eth1 up").status == 0)
        #expect(waitUntil { declared.exec("a", "ping -n -c 1 -W 1 10.2.0.1").status == 0 })
        #expect(declared.exec("a", "ping -n -c 1 -W 2 fd02::1").status == 0)
    }

    @Test func badRequestsExitTwo() throws {
        let lab = TestLab("linkbad")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        #expect(link(lab, "a:eth9 down").status == 2)
        #expect(link(lab, "a:lo down").status == 2)
        #expect(link(lab, "zz:eth0 down").status == 2)
        #expect(link(lab, "a:eth0 sideways").status == 2)
        #expect(link(lab, "a:eth0 set speed=3").status == 2)
        #expect(link(lab, "a:eth0 set rate=fast").status == 2)
        #expect(try interfaceState(lab, "a").up, "nothing changed")
    }

    /// Parameters set one at a time keep the others, read back with tc inside the namespace;
    /// --end changes one direction only; clear removes the qdisc.
    @Test func parametersChangedOneAtATimeKeepTheOthers() throws {
        let lab = TestLab("linkparams")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        #expect(link(lab, "a:eth0 set rate=10mbit").status == 0)
        #expect(link(lab, "a:eth0 set limit=200").status == 0)
        let a = lab.exec("a", "tc qdisc show dev eth0").output
        #expect(a.contains("rate 10Mbit"), "\(a)")
        // tc shows tbf's byte limit as the latency it allows: (200 × 1514 − 32 KiB burst) / 1.25 MB/s.
        #expect(a.contains("lat 216ms"), "\(a)")
        #expect(link(lab, "b:eth0 set rate=20mbit --end").status == 0)
        let b = lab.exec("b", "tc qdisc show dev eth0").output
        #expect(b.contains("rate 20Mbit"), "\(b)")
        let aAgain = lab.exec("a", "tc qdisc show dev eth0").output
        #expect(aAgain.contains("rate 10Mbit"), "--end left a's end alone: \(aAgain)")
        let shown = link(lab, "a:eth0 show").output
        #expect(shown.contains("a:eth0: rate=10mbit limit=200"), "\(shown)")
        #expect(shown.contains("b:eth0: rate=20mbit limit=200"), "\(shown)")
        #expect(try interfaceState(lab, "b").impairment?.text == "rate=20mbit limit=200")
        #expect(link(lab, "a:eth0 clear").status == 0)
        #expect(!lab.exec("a", "tc qdisc show dev eth0").output.contains("tbf"))
        #expect(!lab.exec("b", "tc qdisc show dev eth0").output.contains("tbf"))
        #expect(try interfaceState(lab, "a").impairment == nil)
    }

    /// Declared in the topology: the link's impairment on both ends, an endpoint's over it.
    @Test func declaredImpairmentsAreSetAtDeploy() throws {
        let lab = TestLab("linkdeclared")
        defer { lab.cleanUp() }
        try lab.deploy("""
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a:eth0, { node: b, interface: eth0, impair: { rate: 5mbit } }]
                addresses: [10.77.0.1/24, 10.77.0.2/24]
                impair: { rate: 10mbit }

            """)
        #expect(try interfaceState(lab, "a").impairment?.rate == 10_000_000)
        #expect(try interfaceState(lab, "b").impairment?.rate == 5_000_000)
        #expect(lab.exec("b", "tc qdisc show dev eth0").output.contains("rate 5Mbit"))
        #expect(sh("\(nslabBinary) inspect \(lab.name)").output.contains("impair eth0: rate=5mbit"))
    }

    /// A 10 Mbit/s limit, measured with iperf3 (TCP, 4 s) between the two nodes: within 10 %.
    @Test(.enabled(if: sh("command -v iperf3").status == 0, "needs iperf3 (scripts/install-deps.sh)"))
    func aTenMegabitLimitMeasuredWithIperf3() throws {
        let lab = TestLab("linkrate")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        #expect(link(lab, "a:eth0 set rate=10mbit").status == 0)
        let server = sh("ip netns exec \(lab.namespace("b")) iperf3 -s -1 -D -B 10.77.0.2 --pidfile /tmp/\(lab.name)-iperf.pid")
        #expect(server.status == 0, "\(server.output)")
        defer {
            // Only the server this test started, by its own pid file.
            if let pid = try? String(contentsOfFile: "/tmp/\(lab.name)-iperf.pid", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines), let number = Int32(pid) { kill(number, SIGTERM) }
            try? FileManager.default.removeItem(atPath: "/tmp/\(lab.name)-iperf.pid")
        }
        _ = waitUntil { lab.exec("b", "ss -ltn").output.contains("10.77.0.2:5201") }
        let run = lab.exec("a", "iperf3 -c 10.77.0.2 -t 4 -O 1 -J")
        #expect(run.status == 0, "\(run.output.prefix(500))")
        let json = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any]
        let end = json?["end"] as? [String: Any]
        let received = (end?["sum_received"] as? [String: Any])?["bits_per_second"] as? Double ?? 0
        #expect(abs(received - 10_000_000) / 10_000_000 < 0.10, "measured \(received) bit/s")
    }

    /// Without netem the kernel cannot delay or drop: nslab says so (exit 2) and changes nothing.
    @Test(.enabled(if: !kernelHasNetem, "this kernel has netem"))
    func withoutNetemDelayIsRefusedWithTheReason() throws {
        let lab = TestLab("linknonetem")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        let result = link(lab, "a:eth0 set delay=50ms")
        #expect(result.status == 2)
        #expect(result.output.contains("CONFIG_NET_SCH_NETEM"), "\(result.output)")
        #expect(try interfaceState(lab, "a").impairment == nil)

        // Declared: the deploy is refused with the same reason and rolled back whole.
        let declared = TestLab("linknonetemdecl")
        defer { declared.cleanUp() }
        #expect(throws: LabError.self) {
            try declared.deploy(pairBody.replacingOccurrences(of: "    addresses:", with: "    impair: { delay: 20ms }\n    addresses:"))
        }
        #expect(declared.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(declared.name)"))
    }

    /// RTT with and without 50 ms of delay on one end; then 100 % loss gives no replies; then
    /// loss changed alone keeps the delay.
    @Test(.enabled(if: kernelHasNetem, "this kernel has no netem (CONFIG_NET_SCH_NETEM)"))
    func delayAndLossWithNetem() throws {
        let lab = TestLab("linknetem")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        func averageRTT() -> Double {
            let out = lab.exec("a", "ping -n -c 5 -i 0.2 10.77.0.2").output
            let stats = out.split(separator: "\n").first { $0.contains("min/avg/max") } ?? ""
            return Double(stats.split(separator: "=").last?.split(separator: "/").dropFirst().first ?? "") ?? -1
        }
        #expect(averageRTT() < 5)
        #expect(link(lab, "a:eth0 set delay=50ms --end").status == 0)
        #expect(averageRTT() > 50)
        #expect(link(lab, "a:eth0 set loss=100% --end").status == 0)
        #expect(lab.exec("a", "ping -n -c 3 -i 0.2 -W 1 10.77.0.2").output.contains("100% packet loss"))
        #expect(lab.exec("a", "tc qdisc show dev eth0").output.contains("delay 50"))
        #expect(link(lab, "a:eth0 clear").status == 0)
        #expect(averageRTT() < 5)
    }

    /// A flap schedule observed packet by packet: two gaps in a fast ping, four logged changes.
    @Test func flapTwiceIsSeenAsTwoGapsInAPing() throws {
        let lab = TestLab("linkflap")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        let ping = BackgroundPing(lab, interval: "0.05")
        defer { ping.end() }
        #expect(waitUntil(seconds: 10) { !ping.replies().isEmpty }, "ping answers before the first outage")
        let flap = link(lab, "a:eth0 flap --down-after 0.5 --down-for 0.8 --up-for 1.5 --times 2")
        #expect(flap.status == 0, "\(flap.output)")
        let changes = flap.output.split(separator: "\n").filter { $0.contains("link a:eth0 <-> b:eth0") }
        #expect(changes.count == 4, "\(flap.output)")
        #expect(changes.first?.hasSuffix("down") == true && changes.last?.hasSuffix("up") == true)
        #expect(changes.allSatisfy { $0.first?.isNumber == true }, "each change starts with its time")
        #expect(ping.stopAfterAReply(), "replies after the last change")
        #expect(ping.gaps().count == 2, "two outages: replies \(ping.replies())")
        #expect(try interfaceState(lab, "a").up && interfaceState(lab, "b").up, "up at the end")
    }

    /// `flap:` in the topology: a background schedule, its changes in its log, ended by destroy.
    @Test func aDeclaredFlapRunsInTheBackgroundAndDestroyEndsIt() throws {
        let lab = TestLab("linkflapdecl")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody.replacingOccurrences(of: "    addresses:", with: "    flap: { down-after: 0.3, down-for: 0.3, times: 2, up-for: 30s }\n    addresses:"))
        let logs = "\(LabRecord.root)/\(lab.name)/logs"
        func changes() -> [Substring] {
            sh("cat \(logs)/* 2>/dev/null").output.split(separator: "\n").filter { $0.contains("link a:eth0 <-> b:eth0") }
        }
        // Its first outage starts 0.3 s after the schedule does, which a VM without KVM takes
        // seconds to start; the second one is 30 s later.
        #expect(waitUntil(seconds: 20) { changes().count >= 2 }, "down and up logged: \(changes())")
        #expect(changes().first?.hasSuffix("down") == true)
        let processes = try LabInspector.inspect(lab: lab.name).nodes.flatMap { $0.processes ?? [] }
        let flap = try #require(processes.first { $0.origin == "flap" })
        #expect(isAlive(flap.pid), "waiting 30 s for its second outage")
        _ = try LabDestroyer.destroy(lab: lab.name)
        #expect(waitUntil { !isAlive(flap.pid) }, "destroy ended the schedule")
        #expect(lab.namespaces().isEmpty)
    }

    @Test func destroyLeavesNoNamespaceBehind() throws {
        let lab = TestLab("linkdestroy")
        defer { lab.cleanUp() }
        try lab.deploy(pairBody)
        #expect(link(lab, "a:eth0 set rate=10mbit").status == 0)
        #expect(link(lab, "a:eth0 down").status == 0)
        _ = try LabDestroyer.destroy(lab: lab.name)
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }
}

/// The delay distribution table nslab loads and sends, compared with what `tc` itself sends for
/// the same command (captured live with strace in a scratch namespace: tc sends the request even
/// when the kernel has no netem).
@Suite(.enabled(if: isRoot && sh("command -v strace && command -v tc").status == 0, "needs root, strace and tc"))
struct NetemDistributionTests {
    @Test func distributionNormalIsSentAsTcSendsIt() throws {
        let namespace = "t\(getpid() % 100000)\(Int.random(in: 100...999))-tcdist"
        defer { sh("ip netns delete \(namespace)") }
        #expect(sh("ip netns add \(namespace) && ip -n \(namespace) link add d0 type veth peer name d1").status == 0)
        let traced = sh("ip netns exec \(namespace) strace -e trace=sendmsg -xx -s 65536 tc qdisc replace dev d0 root netem delay 20ms 5ms distribution normal rate 10mbit 2>&1").output
        let marker = try #require(traced.range(of: "TCA_OPTIONS}, \""))
        let hex = traced[marker.upperBound...].prefix { $0 != "\"" }
        let tcOptions = hex.split(separator: "\\").compactMap { UInt8($0.dropFirst(), radix: 16) }
        #expect(tcOptions.count > 8000, "the table is there")

        var impairment = Impairment()
        for (key, value) in [("delay", "20ms"), ("jitter", "5ms"), ("distribution", "normal"), ("rate", "10mbit")] {
            #expect(impairment.set(key, to: value) == nil)
        }
        let message = try ImpairmentQdisc.request(impairment, index: 3, name: "d0")
        // tcmsg (20) + TCA_KIND "netem" (12) + the TCA_OPTIONS header (4), then the options.
        #expect(Array(message.payload.dropFirst(36)) == tcOptions)
    }

    /// The percentages through nslab's own syntax, compared with tc's bytes for the same command.
    @Test func lossDuplicateCorruptReorderAsTcSendsThem() throws {
        let namespace = "t\(getpid() % 100000)\(Int.random(in: 100...999))-tcloss"
        defer { sh("ip netns delete \(namespace)") }
        #expect(sh("ip netns add \(namespace) && ip -n \(namespace) link add d0 type veth peer name d1").status == 0)
        let traced = sh("ip netns exec \(namespace) strace -e trace=sendmsg -xx -s 65536 tc qdisc replace dev d0 root netem delay 20ms loss 1% 25% duplicate 1% corrupt 0.1% reorder 10% limit 500 2>&1").output
        let marker = try #require(traced.range(of: "TCA_OPTIONS}, \""))
        let tcOptions = traced[marker.upperBound...].prefix { $0 != "\"" }
            .split(separator: "\\").compactMap { UInt8($0.dropFirst(), radix: 16) }
        var impairment = Impairment()
        for (key, value) in [("delay", "20ms"), ("loss", "1%"), ("loss-correlation", "25%"), ("duplicate", "1%"),
                             ("corrupt", "0.1%"), ("reorder", "10%"), ("limit", "500")] {
            #expect(impairment.set(key, to: value) == nil)
        }
        let message = try ImpairmentQdisc.request(impairment, index: 3, name: "d0")
        #expect(Array(message.payload.dropFirst(36)) == tcOptions)
    }
}
