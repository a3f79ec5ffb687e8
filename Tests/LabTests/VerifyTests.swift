import Foundation
import FoundationXML
import Testing
@testable import Lab
import NetAddress
import Topology

/// Seed 001's lab with IPv6 beside IPv4 on every link.
let dualStackRoutersBody = """
nodes:
  ns01:     { routes: [default via 192.168.0.254, "default via fd01::fe"] }
  ns02:     { routes: [default via 10.0.0.254, "default via fd03::fe"] }
  router01: { kind: router, routes: [10.0.0.0/24 via 172.16.0.2, "fd03::/64 via fd02::2"] }
  router02: { kind: router, routes: [192.168.0.0/24 via 172.16.0.1, "fd01::/64 via fd02::1"] }
links:
  - endpoints: [ns01:ns01-veth0, router01:gw01-veth0]
    addresses: [[192.168.0.1/24, "fd01::1/64"], [192.168.0.254/24, "fd01::fe/64"]]
  - endpoints: [router01:gw01-veth1, router02:gw02-veth0]
    addresses: [[172.16.0.1/24, "fd02::1/64"], [172.16.0.2/24, "fd02::2/64"]]
  - endpoints: [router02:gw02-veth1, ns02:ns02-veth0]
    addresses: [[10.0.0.254/24, "fd03::fe/64"], [10.0.0.1/24, "fd03::1/64"]]

"""

/// One way of breaking the routers lab by hand, and what explain must say about ns01 → 10.0.0.1.
struct Breakage: Sendable, CustomStringConvertible {
    var name: String
    /// Run as `ip …` / `ip netns exec …` with NODE replaced by the node's namespace.
    var commands: [String]
    var node: String
    var cause: PathCause
    var direction: PathExplanation.Direction
    var description: String { name }
}

let breakages = [
    Breakage(name: "return route deleted", commands: ["ip -n {router02} route del 192.168.0.0/24"],
             node: "router02", cause: .noRoute, direction: .reply),
    Breakage(name: "forwarding off", commands: ["ip netns exec {router01} sysctl -qw net.ipv4.ip_forward=0"],
             node: "router01", cause: .forwardingOff, direction: .forward),
    Breakage(name: "link down", commands: ["ip -n {router01} link set dev gw01-veth1 down"],
             node: "router01", cause: .linkDown, direction: .forward),
    Breakage(name: "peer down: no carrier", commands: ["ip -n {router02} link set dev gw02-veth0 down"],
             node: "router01", cause: .noCarrier, direction: .forward),
    Breakage(name: "address removed", commands: ["ip -n {ns02} addr del 10.0.0.1/24 dev ns02-veth0"],
             node: "router02", cause: .addressMissing, direction: .forward),
    Breakage(name: "gateway made unreachable", commands: ["ip -n {ns01} route replace default via 192.168.0.99"],
             node: "ns01", cause: .gatewayUnreachable, direction: .forward),
]

@Suite("Kernel: ping, verify, trace, explain on real namespaces", .serialized)
struct VerifyTests {
    func withRouters(_ base: String, _ body: (TestLab) throws -> Void) throws {
        let lab = TestLab(base)
        defer { lab.cleanUp() }
        _ = try lab.deploy(dualStackRoutersBody)
        try body(lab)
    }

    func quietPing(_ lab: TestLab, from: String, to: String, family: IPAddress.Family? = nil) throws -> PingStatistics {
        try Pinger.ping(lab: lab.name, from: from, to: to,
                        options: PingOptions(count: 2, interval: 0.05, timeout: 1, family: family), output: { _ in })
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func pingAgreesWithIputilsBothFamilies() throws {
        try withRouters("ping") { lab in
            var lines: [String] = []
            let v4 = try Pinger.ping(lab: lab.name, from: "ns01", to: "ns02", options: PingOptions(count: 2, interval: 0.05),
                                     output: { lines.append($0) })
            #expect(v4.received == 2 && v4.exitCode == 0)
            #expect(lines.first == "PING ns02 (10.0.0.1) 56(84) bytes of data.")
            #expect(lines.contains { $0.hasPrefix("64 bytes from 10.0.0.1: icmp_seq=1 ttl=62 time=") }, "\(lines)")
            #expect(lines.contains("2 packets transmitted, 2 received, 0% packet loss, time 50ms")
                    || lines.contains { $0.hasPrefix("2 packets transmitted, 2 received, 0% packet loss") })
            #expect(lab.exec("ns01", "ping -c 1 -W 1 10.0.0.1").status == 0)

            let v6 = try quietPing(lab, from: "ns01", to: "ns02", family: .ipv6)
            #expect(v6.received == 2)
            #expect(lab.exec("ns01", "ping -6 -c 1 -W 1 fd03::1").status == 0)
            // -I: the tutorial's own `ping -c 3 10.0.0.1 -I 192.168.0.1`.
            let bound = try Pinger.ping(lab: lab.name, from: "ns01", to: "10.0.0.1",
                                        options: PingOptions(count: 1, source: "192.168.0.1"), output: { _ in })
            #expect(bound.received == 1)

            // An address nobody has: no reply, exit status 1, as ping.
            let lost = try quietPing(lab, from: "ns01", to: "10.0.0.99")
            #expect(lost.received == 0 && lost.exitCode == 1)
            #expect(lab.exec("ns01", "ping -c 1 -W 1 10.0.0.99").status == 1)
            // No route at all (router01 has no default route): the kernel refuses to send, nothing
            // leaves the node, and ping exits 2.
            #expect(throws: PingSendError.self) { try quietPing(lab, from: "router01", to: "10.9.9.9") }
            #expect(lab.exec("router01", "ping -c 1 -W 1 10.9.9.9").status == 2)
            #expect(throws: ProbeError.self) { try quietPing(lab, from: "ns01", to: "ns03") }
        }
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func verifyPassesOnTheRoutersLab() throws {
        try withRouters("verify") { lab in
            let report = try Verifier.verify(lab: lab.name)
            #expect(report.passed)
            // 12 addresses in the lab; each node probes those of the three others: 12 × 4 − 12.
            #expect(report.pairs.count == 36)
            let failed = report.pairs.filter { !$0.reachable }
            #expect(failed.isEmpty, "\(failed)")
            let json = try JSONEncoder().encode(report)
            let decoded = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
            #expect(decoded["passed"] as? Bool == true)
            #expect((decoded["pairs"] as? [Any])?.count == report.pairs.count)
            let xml = try XMLDocument(xmlString: Verifier.junit(report))
            #expect(try xml.nodes(forXPath: "//testcase").count == report.pairs.count)
            #expect(try xml.nodes(forXPath: "//failure").isEmpty)
        }
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"), arguments: breakages)
    func brokenByHandVerifyFailsAndExplainNamesTheHop(_ breakage: Breakage) throws {
        try withRouters("break") { lab in
            for command in breakage.commands {
                var line = command
                for node in ["ns01", "ns02", "router01", "router02"] { line = line.replacingOccurrences(of: "{\(node)}", with: lab.namespace(node)) }
                let result = sh(line)
                try #require(result.status == 0, "\(line): \(result.output)")
            }
            let report = try Verifier.verify(lab: lab.name)
            #expect(!report.passed)
            let pair = try #require(report.pairs.first { $0.from == "ns01" && $0.address == "10.0.0.1" })
            #expect(!pair.reachable)
            #expect(pair.explanation?.contains(breakage.node) == true, "\(pair.explanation ?? "-")")

            let explained = try Explainer.explain(lab: lab.name, from: "ns01", to: "10.0.0.1")
            #expect(explained.explanation.problem?.node == breakage.node, "\(Explainer.render(explained))")
            #expect(explained.explanation.problem?.cause == breakage.cause, "\(Explainer.render(explained))")
            #expect(explained.explanation.brokenDirection == breakage.direction, "\(Explainer.render(explained))")
            #expect(explained.agrees, "\(Explainer.render(explained))")
            // And Debian's ping agrees.
            #expect(lab.exec("ns01", "ping -c 1 -W 1 10.0.0.1").status != 0)
            // JUnit lists the failures with their explanations.
            let xml = try XMLDocument(xmlString: Verifier.junit(report))
            #expect(try xml.nodes(forXPath: "//failure").count == report.failedPairs)
        }
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func canonicalCaseExplainedFromBothSides() throws {
        try withRouters("canon") { lab in
            _ = sh("ip -n \(lab.namespace("router02")) route del 192.168.0.0/24")
            let there = try Explainer.explain(lab: lab.name, from: "ns01", to: "ns02")
            #expect(there.explanation.forward.delivered)
            #expect(there.explanation.summary.contains("forward path works, reply path breaks at router02"))
            #expect(there.explanation.problem?.detail.contains("no route to 192.168.0.1") == true)
            let back = try Explainer.explain(lab: lab.name, from: "ns02", to: "ns01")
            #expect(back.explanation.brokenDirection == .forward)
            #expect(back.explanation.problem?.node == "router02")
            #expect(back.agrees)
            // IPv6 still works: only the IPv4 route was deleted.
            #expect(try Explainer.explain(lab: lab.name, from: "ns01", to: "ns02", family: .ipv6).explanation.reaches)
        }
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func traceMatchesTraceroute() throws {
        try withRouters("trace") { lab in
            let result = try Tracer.trace(lab: lab.name, from: "ns01", to: "ns02", options: TraceOptions(queries: 1))
            #expect(result.reached)
            #expect(result.hops.map(\.name) == ["router01:gw01-veth0", "router02:gw02-veth0", "ns02:ns02-veth0"])
            let traceroute = lab.exec("ns01", "traceroute -n -I -q 1 -w 1 10.0.0.1")
            try #require(traceroute.status == 0, "\(traceroute.output)")
            // Lines " 1  192.168.0.254  0.027 ms": the second word is the hop's address.
            let addresses = traceroute.output.split(separator: "\n").dropFirst()
                .compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
            #expect(result.hops.compactMap(\.address) == addresses, "\(traceroute.output)")
            let udp = lab.exec("ns01", "traceroute -n -q 1 -w 1 10.0.0.1")
            let udpAddresses = udp.output.split(separator: "\n").dropFirst()
                .compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
            #expect(result.hops.compactMap(\.address) == udpAddresses, "\(udp.output)")
            let v6 = try Tracer.trace(lab: lab.name, from: "ns01", to: "ns02", options: TraceOptions(queries: 1, family: .ipv6))
            #expect(v6.hops.map(\.name) == ["router01:gw01-veth0", "router02:gw02-veth0", "ns02:ns02-veth0"])
        }
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func expectationsPassAndFail() throws {
        let lab = TestLab("expect")
        defer { lab.cleanUp() }
        _ = try lab.deploy(dualStackRoutersBody + """
        expect:
          - ns01 reaches ns02 via router01, router02
          - ns01 reaches 10.0.0.1
          - ns02 reaches ns01:ns01-veth0
          - { from: ns02, to: router01, via: [router02] }
          - ns01 does not reach 10.0.0.99

        """)
        let report = try Verifier.verify(lab: lab.name, options: VerifyOptions(skipPairs: true))
        #expect(report.passed, "\(report.expectations.filter { !$0.holds })")
        #expect(report.expectations.count == 5)

        // The same lab checked against other expectations (a file edited after deploy).
        let text = "name: \(lab.name)\nprefix: \(lab.prefix)\n" + dualStackRoutersBody + """
        expect:
          - ns01 reaches ns02 via router02, router01
          - ns01 does not reach ns02
          - ns01 reaches 10.0.0.1

        """
        let edited = try Topology.parse(yaml: text, file: "edited.yaml")
        let failing = try Verifier.verify(lab: lab.name, topology: edited, options: VerifyOptions(skipPairs: true))
        #expect(!failing.passed)
        #expect(failing.expectations.map(\.holds) == [false, false, true])
        #expect(failing.expectations[0].detail.contains("the path goes via router01, router02"))
        #expect(failing.expectations[0].location == "edited.yaml:\(text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("via router02, router01") }.map { $0 + 1 } ?? 0):5")
    }
}

@Suite("Pure: how round-trip times are written")
struct MillisecondsFormatTests {
    @Test func sameTextAsPrintfWithThreeDecimals() {
        for value in [0, 0.0004, 0.0005001, 0.042, 1.2345678, 12.3456, 999.9996, 1234.5, 86_400_000.25] {
            #expect(Pinger.formatMilliseconds(value) == String(format: "%.3f", value), "\(value)")
        }
    }
}
