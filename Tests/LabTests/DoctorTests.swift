import Foundation
import Testing
@testable import Lab

/// `nslab doctor` finds each kind of leftover, cleans it with --yes, and touches nothing else.
/// Each test limits doctor to its own lab (`--lab`): tests running beside it have labs of their
/// own half-built, and a lab ScriptTests builds by hand has nslab's /etc files without a record.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct DoctorTests {
    func doctor(_ lab: TestLab, _ arguments: String = "") -> (status: Int32, output: String) {
        sh("\(nslabBinary) doctor --lab \(lab.name) \(arguments) < /dev/null")
    }

    @Test func aRecordWhoseNamespacesAreGone() throws {
        let lab = TestLab("docrec")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy("nodes: { a: , b: }\n")
        for node in ["a", "b"] { sh("ip netns delete \(lab.namespace(node))") }
        let report = doctor(lab)
        #expect(report.status == 1)
        #expect(report.output.contains("record-without-resources  lab \(lab.name)"), "\(report.output)")
        // Limited to another lab, the same leftover is not that doctor's business.
        let other = doctor(TestLab("docother"), "--yes")
        #expect(other.status == 0 && !other.output.contains(lab.name), "\(other.output)")
        #expect(FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        #expect(doctor(lab, "--yes").status == 0)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }

    @Test func namespacesWhoseRecordIsGoneAndNothingForeign() throws {
        let lab = TestLab("docns")
        let foreign = lab.namespace("foreign")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy("nodes: { a: , b: }\nlinks:\n  - endpoints: [a, b]\n")
        sh("rm -f \(LabRecord.root)/\(lab.name)/record.jsonl")
        // A namespace made by hand, with a veth of its own: not nslab's, never reported.
        sh("ip netns add \(foreign) && ip -n \(foreign) link add x0 type veth peer name x1")
        let report = doctor(lab, "--json")
        #expect(report.status == 1)
        #expect(report.output.contains("\"namespace-without-record\""))
        #expect(report.output.contains("\"\(lab.namespace("a"))\"") && report.output.contains("\"\(lab.namespace("b"))\""))
        #expect(!report.output.contains(foreign), "\(report.output)")
        // Their /etc/netns files are nslab's too, and no record lists them any more.
        #expect(report.output.contains("\"etc-files-without-record\""))
        #expect(report.output.contains("/etc/netns/\(lab.namespace("a"))"))
        let fixed = doctor(lab, "--yes")
        #expect(fixed.status == 0, "\(fixed.output)")
        #expect(lab.namespaces() == [foreign])
        #expect(!FileManager.default.fileExists(atPath: "/etc/netns/\(lab.namespace("a"))"))
    }

    @Test func aNamespaceKeptAliveByAProcess() throws {
        let lab = TestLab("docproc")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy("nodes: { a: , b: }\nlinks:\n  - endpoints: [a, b]\n")
        // A sleeper inside node a, then its name and the record removed by hand.
        let pid = sh("ip netns exec \(lab.namespace("a")) sh -c 'sleep 300 > /dev/null 2>&1 & echo $!'").output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        defer { if let pid = Int32(pid) { kill(pid, SIGKILL) } }
        sh("ip netns delete \(lab.namespace("a")); ip netns delete \(lab.namespace("b")); rm -f \(LabRecord.root)/\(lab.name)/record.jsonl")
        let report = doctor(lab)
        #expect(report.output.contains("namespace-kept-by-processes  lab \(lab.name)"), "\(report.output)")
        #expect(report.output.contains(pid))
        #expect(doctor(lab, "--yes").status == 0)
        // Gone, or a zombie whose parent has not reaped it yet: either way out of the namespace.
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
            .split(separator: ")").last?.split(separator: " ").first
        #expect(state == nil || state == "Z", "the sleeper still runs (state \(state ?? "?"))")
    }
}
