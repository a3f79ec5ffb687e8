import Foundation
import Testing
@testable import Lab
import Topology

/// The pure parts of following a spread lab's other hosts: reading their event lines, naming the
/// host, where the nodes are, one verify report of several machines.
@Suite("spread labs: the hosts' streams and reports")
struct SpreadPartsTests {
    let time = "2025-06-01T10:00:00.123+02:00"

    /// The text a host's `nslab events --json LAB` writes for an event.
    func json(_ event: LabEvent) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(event), as: UTF8.self)
    }

    @Test func linesAreCutWhereverAReadEndsAndNamedByTheirHost() throws {
        let down = LabEvent(time: time, type: .linkDown, lab: "campus", node: "sw", interface: "sw:eth0")
        let impaired = LabEvent(time: time, type: .impairmentSet, lab: "campus", node: "b", interface: "b:eth0", impairment: "delay=20ms")
        let text = Array(("{\"following\":[\"campus\"]}\n" + (try json(down)) + "\n" + (try json(impaired)) + "\n").utf8)
        // Byte by byte: no line is read before its newline, whatever the reads' sizes.
        var lines = RemoteEventLines(host: "h2")
        var read: [RemoteEventLine] = []
        for byte in text { read += lines.take([byte]) }
        var named = down
        named.host = "h2"
        var namedImpaired = impaired
        namedImpaired.host = "h2"
        #expect(read == [.started, .event(named), .event(namedImpaired)])

        // A line without its newline waits; at the end it is read as it is.
        var partial = RemoteEventLines(host: "h3")
        #expect(partial.take(Array(try json(down).utf8)) == [])
        named.host = "h3"
        #expect(partial.finish() == [.event(named)])
        #expect(partial.finish() == [])
    }

    /// What is not the stream (a banner, a newer field's value) is kept as it is, not as an event;
    /// the host is the one the stream comes from, whatever the line says.
    @Test func otherLinesAreNotEvents() throws {
        var lines = RemoteEventLines(host: "h2")
        var elsewhere = LabEvent(time: time, type: .linkUp, lab: "campus", interface: "b:eth0")
        elsewhere.host = "h9"
        let read = lines.take(Array("Welcome to h2\n{\"type\":\"no-such-type\"}\n\n\(try json(elsewhere))\n".utf8))
        #expect(read.count == 3)
        #expect(read.prefix(2) == [.unreadable("Welcome to h2"), .unreadable("{\"type\":\"no-such-type\"}")])
        guard case .event(let event) = read.last else { Issue.record("\(read)"); return }
        #expect(event.host == "h2")
    }

    /// Text: the host at the end (`on h2`); JSON: a host field, absent for this machine.
    @Test func eventsNameTheirHost() throws {
        var event = LabEvent(time: time, type: .linkDown, lab: "campus", node: "sw", interface: "sw:eth0")
        #expect(event.line == "\(time) campus link-down sw:eth0")
        #expect(!(try json(event)).contains("host"))
        event.host = "h2"
        #expect(event.line == "\(time) campus link-down sw:eth0 on h2")
        #expect((try json(event)).contains(#""host":"h2""#))
        #expect(try JSONDecoder().decode(LabEvent.self, from: Data(try json(event).utf8)) == event)
    }

    @Test func theLayoutSaysWhereEveryNodeIs() throws {
        let topology = try Topology.parse(yaml: """
            name: campus
            hosts:
              h2: root@192.0.2.2
              h3: root@192.0.2.3
              h4: root@192.0.2.4
            nodes:
              a: {}
              sw: { kind: bridge, host: h2 }
              b: { host: h2 }
              r2: { kind: router, host: h3 }
            links:
              - { endpoints: [a, sw], addresses: [10.2.0.1/24, ~] }
              - { endpoints: [b, sw], addresses: [10.2.0.11/24, ~] }
              - { endpoints: [r2, sw], addresses: [10.2.0.2/24, ~] }
            """, file: "campus.yaml")
        let layout = SpreadLayout(topology)
        #expect(layout.hosts == ["h2", "h3"], "h4 holds no node: no part of the lab")
        #expect(layout.remoteNodes.map { "\($0.name) \($0.host) \($0.kind.rawValue)" } == ["sw h2 bridge", "b h2 host", "r2 h3 router"])
        #expect(layout.crossHostLinks == [["a:eth0", "sw:eth0"], ["r2:eth0", "sw:eth2"]])
        #expect(layout.host(of: "b") == "h2" && layout.host(of: "a") == nil)
    }

    @Test func oneReportOfEveryMachine() {
        func pair(_ from: String, _ to: String, _ reachable: Bool) -> PairResult {
            PairResult(from: from, to: to, address: "10.0.0.1", reachable: reachable, milliseconds: reachable ? 0.1 : nil,
                       outcome: reachable ? "reply" : "no reply", explanation: nil)
        }
        func report(_ nodes: [String], _ pairs: [PairResult], groups: [FailureGroup] = [], seconds: Double) -> VerifyReport {
            let answered = pairs.filter(\.reachable).count
            return VerifyReport(lab: "campus", nodes: nodes, pairs: pairs, allPairsListed: true, probes: pairs.count, answered: answered,
                                failedPairs: pairs.count - answered, failureGroups: groups, sample: nil, from: nil, to: nil,
                                expectations: [], seconds: seconds, passed: answered == pairs.count)
        }
        let here = report(["a", "b", "d"], [pair("a", "b", true), pair("a", "d", true)], seconds: 0.3)
        let h2 = report(["b", "a", "d"], [pair("b", "a", true), pair("b", "d", false)],
                        groups: [FailureGroup(node: "r2", cause: "no-route", direction: "forward", pairs: 1, example: "b → d")], seconds: 0.5)
        let merged = VerifyReport.merging([here, h2], lab: "campus")
        #expect(merged.nodes == ["a", "b", "d"])
        #expect(merged.pairs.count == 4 && merged.probes == 4 && merged.answered == 3 && merged.failedPairs == 1)
        #expect(merged.failureGroups.map(\.node) == ["r2"])
        #expect(merged.seconds == 0.5, "the machines probe at once")
        #expect(!merged.passed)
        #expect(VerifyReport.merging([here], lab: "campus").passed)
    }
}
