import Foundation
import Testing
@testable import Topology

/// docs/topology.md is the grammar's reference: every key the decoder accepts has a row there.
@Suite struct DocsTests {
    static let docsURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/topology.md")

    @Test func everyKeyIsDocumented() throws {
        let text = try String(contentsOf: Self.docsURL, encoding: .utf8)
        let keys = TopologyKeys.topLevel + TopologyKeys.node + TopologyKeys.link + TopologyKeys.endpoint
            + TopologyKeys.route + TopologyKeys.routeWords + TopologyKeys.impairment + TopologyKeys.flap
            + TopologyKeys.subinterface
        let undocumented = Set(keys).filter { !text.contains("| `\($0)` |") && !text.contains("`\($0) ") }
        #expect(undocumented.isEmpty, "keys missing from docs/topology.md: \(undocumented.sorted())")
    }

    /// The examples in the docs decode: a reference whose own examples fail is worse than none.
    @Test func yamlExamplesDecode() throws {
        let text = try String(contentsOf: Self.docsURL, encoding: .utf8)
        let blocks = text.components(separatedBy: "```yaml\n").dropFirst()
            .compactMap { $0.components(separatedBy: "```").first }
        #expect(blocks.count >= 3)
        let complete = blocks.filter { $0.contains("name:") }
        #expect(!complete.isEmpty)
        for block in complete {
            #expect(throws: Never.self, "\(block)") { _ = try Topology.parse(yaml: block, file: "docs") }
        }
    }
}
