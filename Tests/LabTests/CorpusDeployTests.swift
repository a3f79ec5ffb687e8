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
        let before = Set(systemSnapshot().split(separator: "\n"))
        for file in files {
            let result = sh("\(nslabBinary) deploy \(Self.corpus.path)/\(file)")
            #expect(result.status == 2, "\(file): \(result.output)")
            #expect(result.output.contains("\(file):") && result.output.contains("error:"), "\(file): \(result.output)")
        }
        // Only what these files could have made counts: other programs on the machine may add
        // namespaces of their own meanwhile. The corpus's nodes are the two-space-indented keys.
        var names = Set<Substring>(["lab", "bomb", "c", "big"])
        for file in files {
            let text = (try? String(contentsOfFile: "\(Self.corpus.path)/\(file)", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.hasPrefix("  ") && !line.hasPrefix("   ") {
                if let key = line.dropFirst(2).split(separator: ":").first { names.insert(key) }
            }
        }
        let added = Set(systemSnapshot().split(separator: "\n")).subtracting(before)
        let ours = added.filter { entry in names.contains { entry == $0 || entry.hasSuffix("/\($0)") || entry.contains("/\($0) ") } }
        #expect(ours.isEmpty, "left behind: \(ours.sorted())")
    }
}
