import Foundation
import Testing
@testable import Lab

/// A lab far bigger than the open-file limit goes through its whole life under that limit: the
/// CLI runs under `prlimit --nofile=256:256` (soft and hard, so raising the soft limit at start
/// does not help), and a 1,500-leaf star needs 1,501 namespaces and 3,000 raw sockets. Any
/// command holding a file per node (as deploy did: a namespace and a socket each, for the whole
/// run) fails here with EMFILE, or is refused up front.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct OpenFileLimitTests {
    static let leaves = 1_500
    static let limit = 256

    /// The CLI under the limit; stdout alone (progress and errors go to stderr, kept for failures).
    func nslab(_ arguments: String) -> (status: Int32, output: String) {
        sh("prlimit --nofile=\(Self.limit):\(Self.limit) \(nslabBinary) \(arguments) 2>/tmp/\(getpid())-openfiles.err"
           + " || { s=$?; cat /tmp/\(getpid())-openfiles.err; exit $s; }")
    }

    @Test func aLabOfManyMoreNodesThanOpenFilesDeploysVerifiesConvergesAndIsDestroyed() throws {
        let lab = TestLab("fds")
        defer {
            lab.cleanUp()
            unlink("/tmp/\(getpid())-openfiles.err")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(lab.name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let star = directory.appendingPathComponent("star.yaml").path
        let grown = directory.appendingPathComponent("grown.yaml").path
        for (leaves, file) in [(Self.leaves, star), (Self.leaves + 1, grown)] {
            let generated = sh("\(nslabBinary) generate star --leaves \(leaves) --name \(lab.name) --prefix \(lab.prefix) -o \(file)")
            try #require(generated.status == 0, "\(generated.output)")
        }

        let deployed = nslab("deploy -q \(star)")
        try #require(deployed.status == 0, "deploy under \(Self.limit) open files: \(deployed.output)")
        #expect(lab.namespaces().count == Self.leaves + 1)

        let inspected = nslab("inspect \(lab.name) --json")
        #expect(inspected.status == 0, "inspect: \(inspected.output.prefix(2000))")
        let state = try JSONSerialization.jsonObject(with: Data(inspected.output.utf8)) as? [String: Any]
        #expect((state?["nodes"] as? [Any])?.count == Self.leaves + 1)

        // Every node to every address of 3 others: 3,002 sockets opened in turn.
        let verified = nslab("verify \(lab.name) --sample 3 --seed 1")
        #expect(verified.status == 0, "verify: \(verified.output.suffix(2000))")
        // All pairs from one node: the hub's 3,000 link addresses are probed from a leaf.
        let fromLeaf = nslab("verify \(lab.name) --from leaf1")
        #expect(fromLeaf.status == 0, "verify --from: \(fromLeaf.output.suffix(2000))")

        let unchanged = nslab("deploy \(star)")
        #expect(unchanged.status == 0, "converge, unchanged: \(unchanged.output)")
        let added = nslab("deploy -q \(grown)")
        #expect(added.status == 0, "converge, one leaf added: \(added.output)")
        #expect(lab.namespaces().count == Self.leaves + 2)
        let newLeaf = lab.exec("leaf\(Self.leaves + 1)", "ping -c 1 -W 2 10.0.0.1")
        #expect(newLeaf.status == 0, "the added leaf reaches the hub: \(newLeaf.output)")

        let doctor = nslab("doctor --lab \(lab.name)")
        #expect(doctor.status == 0, "doctor: \(doctor.output)")

        let destroyed = nslab("destroy \(lab.name)")
        #expect(destroyed.status == 0, "destroy: \(destroyed.output)")
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }
}
