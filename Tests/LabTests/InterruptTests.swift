import Foundation
import Testing
@testable import Lab
import Topology

/// A deploy stopped by a signal: SIGINT/SIGTERM/SIGHUP roll everything back and exit 128+N;
/// after SIGKILL (nothing can run) `nslab destroy` removes exactly what exists of the lab.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct InterruptTests {
    /// A lab big enough to still be deploying when the signal comes, written to a file.
    func labFile(_ lab: TestLab) throws -> String {
        let topology = try GeneratedShape.star(leaves: 300).topology(name: lab.name, prefix: lab.prefix)
        let path = "/tmp/\(lab.name).yaml"
        try YAMLWriter.yaml(of: topology).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Starts `nslab deploy`, waits until its first namespace exists, sends `signal`, and
    /// returns the exit status and output.
    func deploy(_ file: String, _ lab: TestLab, interruptedBy signal: String, after delay: Double = 0.05)
        -> (status: Int32, output: String) {
        let script = """
            \(nslabBinary) deploy \(file) 2>&1 & pid=$!
            while ! ls /run/netns 2>/dev/null | grep -q '^\(lab.prefix)'; do sleep 0.005; done
            sleep \(delay); kill -\(signal) $pid; wait $pid; echo "exit=$?"
            """
        return sh(script)
    }

    @Test(arguments: [("INT", 130), ("TERM", 143), ("HUP", 129)])
    func aSignalRollsTheDeployBack(signal: String, expected: Int) throws {
        let lab = TestLab("sig\(signal.lowercased())")
        let file = try labFile(lab)
        defer { lab.cleanUp(); unlink(file) }
        let result = deploy(file, lab, interruptedBy: signal)
        #expect(result.output.contains("exit=\(expected)"), "\(result.output)")
        #expect(result.output.contains("interrupted by SIG\(signal)"), "\(result.output)")
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        #expect(!sh("ls /etc/netns 2>/dev/null").output.contains(lab.prefix))
    }

    @Test func afterKill9DestroyRemovesWhatExists() throws {
        let lab = TestLab("kill9")
        let file = try labFile(lab)
        defer { lab.cleanUp(); unlink(file) }
        let result = deploy(file, lab, interruptedBy: "KILL")
        #expect(result.output.contains("exit=137"), "\(result.output)")
        #expect(!lab.namespaces().isEmpty, "the deploy was killed before it created anything")
        #expect(sh("\(nslabBinary) list").output.contains("incomplete"))
        let destroy = sh("\(nslabBinary) destroy \(lab.name)")
        #expect(destroy.status == 0, "\(destroy.output)")
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        #expect(sh("grep -c ' /run/netns/\(lab.prefix)' /proc/mounts").output.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    /// kill -9 at several points of a deploy (namespaces, links, addresses, host names, /etc
    /// files), each followed by `nslab destroy`: nothing of the lab may remain.
    @Test(arguments: [0.0, 0.15, 0.3, 0.5, 0.8])
    func kill9AnywhereThenDestroyLeavesNothing(after delay: Double) throws {
        let lab = TestLab("k9")
        let file = try labFile(lab)
        defer { lab.cleanUpEverything(); unlink(file) }
        _ = deploy(file, lab, interruptedBy: "KILL", after: delay)
        let destroy = sh("\(nslabBinary) destroy \(lab.name)")
        #expect(destroy.status == 0, "\(destroy.output)")
        #expect(lab.namespaces().isEmpty)
        #expect(!sh("cat /proc/mounts").output.contains(lab.prefix) && !sh("cat /proc/mounts").output.contains(lab.name))
        #expect(!sh("ls /etc/netns 2>/dev/null").output.contains(lab.prefix))
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        #expect(!sh("ps -eo args").output.contains(file))
    }

    /// kill -9 during a deploy, then the same deploy again: it converges from whatever exists
    /// (a deploy cut short is converged, not refused), and the lab is then exactly the file's.
    @Test(arguments: [0.1, 0.4])
    func kill9ThenDeployConverges(after delay: Double) throws {
        let lab = TestLab("k9c")
        let file = try labFile(lab)
        defer { lab.cleanUpEverything(); unlink(file) }
        _ = deploy(file, lab, interruptedBy: "KILL", after: delay)
        let again = sh("\(nslabBinary) deploy -q \(file)")
        #expect(again.status == 0, "\(again.output)")
        let diff = sh("\(nslabBinary) diff \(file)")
        #expect(diff.status == 0, "\(diff.output)")
        #expect(lab.namespaces().count == 301)
        #expect(sh("\(nslabBinary) destroy \(lab.name)").status == 0)
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }

    /// SIGTERM while a deployed lab converges to a file with 300 more nodes: what the run made
    /// is undone, the command exits 143, and the lab is as the first file says.
    @Test func aSignalDuringAConvergeUndoesIt() throws {
        let lab = TestLab("sigconv")
        let small = try labFile(lab)
        let bigger = "/tmp/\(lab.name)-bigger.yaml"
        let topology = try GeneratedShape.star(leaves: 600).topology(name: lab.name, prefix: lab.prefix)
        try YAMLWriter.yaml(of: topology).write(toFile: bigger, atomically: true, encoding: .utf8)
        defer { lab.cleanUpEverything(); unlink(small); unlink(bigger) }
        #expect(sh("\(nslabBinary) deploy -q \(small)").status == 0)
        let script = """
            \(nslabBinary) deploy -q \(bigger) >/dev/null 2>&1 & pid=$!
            while [ "$(ls /run/netns | grep -c '^\(lab.prefix)')" -le 301 ]; do sleep 0.005; done
            kill -TERM $pid; wait $pid; echo "exit=$?"
            """
        let result = sh(script)
        #expect(result.output.contains("exit=143"), "\(result.output)")
        let diff = sh("\(nslabBinary) diff \(small)")
        #expect(diff.status == 0, "the lab is as before: \(diff.output.prefix(2000))")
        #expect(lab.namespaces().count == 301)
    }
}
