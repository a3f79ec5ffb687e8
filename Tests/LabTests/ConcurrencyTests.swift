import Foundation
import Testing
@testable import Lab
import Topology

/// Several nslab processes at once: different labs all succeed; the same lab twice ends with
/// exactly one deploy, the other waiting for it and finding it done (or refusing cleanly).
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct ConcurrencyTests {
    func writeLab(_ lab: TestLab, leaves: Int) throws -> String {
        let topology = try GeneratedShape.star(leaves: leaves).topology(name: lab.name, prefix: lab.prefix)
        let path = "/tmp/\(lab.name).yaml"
        try YAMLWriter.yaml(of: topology).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs the commands at the same moment, each in the background, and returns their outputs,
    /// each ending with "exit=N".
    func together(_ commands: [String]) -> [String] {
        let script = commands.enumerated().map { index, command in
            "(\(command) > /tmp/conc-\(getpid())-\(index).out 2>&1; echo \"exit=$?\" >> /tmp/conc-\(getpid())-\(index).out) &"
        }.joined(separator: "\n") + "\nwait"
        sh(script)
        return commands.indices.map { index in
            let path = "/tmp/conc-\(getpid())-\(index).out"
            defer { unlink(path) }
            return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }
    }

    @Test func differentLabsDeployAndDestroyAtTheSameTime() throws {
        let labs = [TestLab("conca"), TestLab("concb"), TestLab("concc")]
        let files = try labs.map { try writeLab($0, leaves: 40) }
        defer { for (lab, file) in zip(labs, files) { lab.cleanUpEverything(); unlink(file) } }
        let deploys = together(files.map { "\(nslabBinary) deploy -q \($0)" })
        for output in deploys { #expect(output.contains("exit=0"), "\(output)") }
        for lab in labs {
            #expect(lab.namespaces().count == 41)
            #expect(lab.exec("leaf40", "ping -c 1 -W 2 10.0.0.1").status == 0)
        }
        let destroys = together(labs.map { "\(nslabBinary) destroy \($0.name)" })
        for output in destroys { #expect(output.contains("exit=0") && output.contains("destroyed"), "\(output)") }
        for lab in labs { #expect(lab.namespaces().isEmpty) }
    }

    @Test func theSameLabTwiceAtOnceDeploysOnce() throws {
        let lab = TestLab("concsame")
        let file = try writeLab(lab, leaves: 60)
        defer { lab.cleanUpEverything(); unlink(file) }
        let outputs = together([0, 1].map { _ in "\(nslabBinary) deploy -q \(file)" })
        let deployed = outputs.filter { $0.contains("deployed:") && $0.contains("exit=0") }
        let other = outputs.filter { !($0.contains("deployed:") && $0.contains("exit=0")) }
        #expect(deployed.count == 1, "\(outputs)")
        // The other waited on the lab's lock and found it deployed, or was told to wait.
        #expect(other.allSatisfy { ($0.contains("nothing to do") && $0.contains("exit=0")) || $0.contains("exit=2") }, "\(outputs)")
        #expect(lab.namespaces().count == 61)
        let destroys = together([0, 1].map { _ in "\(nslabBinary) destroy \(lab.name)" })
        #expect(destroys.filter { $0.contains("destroyed:") }.count == 1, "\(destroys)")
        #expect(destroys.allSatisfy { $0.contains("exit=0") }, "\(destroys)")
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }
}
