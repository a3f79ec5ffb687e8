import Foundation
import Testing

/// Every broken or hostile file of the topology corpus, given to `nslab deploy`: exit 2, its
/// diagnostic on stderr, and nothing created or changed on the machine.
@Suite(.enabled(if: isRoot, "needs root: deploy would create namespaces if it accepted a file"), .serialized)
struct CorpusDeployTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TopologyTests/Corpus")

    @Test func everyCorpusFileIsRefusedAndChangesNothing() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 40)
        let before = systemSnapshot()
        for file in files {
            let result = sh("\(nslabBinary) deploy \(Self.corpus.path)/\(file)")
            #expect(result.status == 2, "\(file): \(result.output)")
            #expect(result.output.contains("\(file):") && result.output.contains("error:"), "\(file): \(result.output)")
        }
        #expect(systemSnapshot() == before)
    }
}
