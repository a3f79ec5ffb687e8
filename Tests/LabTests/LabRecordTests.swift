import Foundation
import Testing
@testable import Lab

/// The journal read back: whole, or only some events (destroy decodes the namespaces' lines
/// first), with damaged and hand-written lines handled the same way either way.
@Suite struct LabRecordTests {
    private func journal(_ lines: [String]) throws -> String {
        let path = NSTemporaryDirectory() + "nslab-record-\(getpid())-\(UUID().uuidString).jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let lines = [
        #"{"event":"lab","file":"/x.yaml","hash":"abc","lab":"l","prefix":"p-","time":1}"#,
        #"{"event":"namespace","name":"p-a","node":"a"}"#,
        #"{"event":"namespace","name":"p-b","node":"b"}"#,
        #"{"event":"namespace-created","inode":11,"name":"p-a","node":"a"}"#,
        #"{"event":"uts","node":"a","path":"/run/nslab/l/uts/a"}"#,
        #"{"event":"etc-directory","files":["hosts"],"path":"/etc/netns/p-a"}"#,
        // Written by hand, keys in another order: still read, and sorted out by its event.
        #"{"name":"p-b","inode":12,"event":"namespace-created","node":"b"}"#,
        #"{"event":"links","interfaces":["a:eth0","b:eth0","a:eth1"]}"#,
        #"{"event":"deployed","hash":"abc","time":2}"#,
    ]

    @Test func onlyTheWantedEventsAndTheSameAsReadingAll() throws {
        let path = try journal(Self.lines)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let all = LabRecord.entries(atPath: path)
        #expect(all.count == Self.lines.count)
        let some = LabRecord.entries(atPath: path, events: RecordSummary.events)
        #expect(some == all.filter { RecordSummary.events.contains($0.event) })
        #expect(some.map(\.event) == [.lab, .namespace, .namespace, .namespaceCreated, .namespaceCreated, .links, .deployed])
        let summary = RecordSummary(lab: "l", entries: some)
        #expect(summary.namespaces.map(\.name) == ["p-a", "p-b"] && summary.inodes == ["p-a": 11, "p-b": 12])
        #expect(summary.isComplete)
        #expect(summary.interfaceCounts == ["a": 2, "b": 1])
        let rest = LabRecord.entries(atPath: path, events: NodeEnvironmentRecord.events)
        #expect(rest.map(\.event) == [.uts, .etcDirectory])
    }

    @Test func aLineCutShortIsSkippedAndTheRestRead() throws {
        var lines = Self.lines
        lines.insert(#"{"event":"namespace","name":"p-c""#, at: 3)  // a write cut short by a crash
        let path = try journal(lines)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(LabRecord.entries(atPath: path).count == Self.lines.count)
        #expect(LabRecord.entries(atPath: path, events: [.namespace]).compactMap(\.name) == ["p-a", "p-b"])
    }

    @Test func theEventIsReadFromTheLinesStart() {
        #expect(LabRecord.eventPrefix(of: Array(#"{"event":"uts-created","inode":1}"#.utf8)) == .utsCreated)
        #expect(LabRecord.eventPrefix(of: Array(#"{"inode":1,"event":"uts"}"#.utf8)) == nil)
        #expect(LabRecord.eventPrefix(of: Array(#"{"event":"no-such-thing"}"#.utf8)) == nil)
    }
}
