import Foundation
import Testing
@testable import Topology

/// Broken and hostile topology files (Corpus/*.yaml), each refused with the diagnostic listed in
/// Corpus/expected.tsv: file, LINE:COLUMN, and the exact message of the first diagnostic.
@Suite struct CorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    static func expectations() throws -> [(file: String, location: String, message: String)] {
        let text = try String(contentsOf: directory.appendingPathComponent("expected.tsv"), encoding: .utf8)
        return text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", maxSplits: 2).map(String.init)
            return (fields[0], fields.count > 1 ? fields[1] : "", fields.count > 2 ? fields[2] : "")
        }
    }

    @Test func everyFileHasAnExpectationAndThereAreAtLeastForty() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".yaml") }
        let listed = try Self.expectations().map(\.file)
        #expect(Set(files) == Set(listed))
        #expect(listed.count == Set(listed).count)
        #expect(files.count >= 40)
    }

    @Test func eachFileIsRefusedWithItsMessage() throws {
        for expected in try Self.expectations() {
            let path = Self.directory.appendingPathComponent(expected.file).path
            do {
                let topology = try Topology.load(path: path)
                Issue.record("\(expected.file) was accepted as lab \(topology.name)")
            } catch {
                let first = try #require(error.diagnostics.first)
                #expect(first.location == SourceLocation(file: path, line: Int(expected.location.split(separator: ":")[0]) ?? 0,
                                                         column: Int(expected.location.split(separator: ":")[1]) ?? 0),
                        "\(expected.file): \(first)")
                #expect(first.message.replacingOccurrences(of: Self.directory.path + "/", with: "") == expected.message,
                        "\(expected.file): \(first)")
                #expect(first.hint != nil || !expected.message.isEmpty)
            }
        }
    }

    @Test func aHundredThousandNodesAreRefusedAtOnce() {
        let yaml = "name: big\nnodes:\n" + (0..<100_000).map { "  n\($0):\n" }.joined()
        let found = diagnostics(yaml)
        #expect(found.count == 1)
        #expect(found.first?.location.description == "lab.yaml:2:1")
        #expect(found.first?.message == "the lab has 100000 nodes, more than nslab deploys (10000)")
    }

    @Test func tooManyLinksAreRefused() {
        let links = (0...TopologyLimits.links).map { _ in "  - endpoints: [a, b]\n" }.joined()
        let found = diagnostics("name: big\nnodes: {a: , b: }\nlinks:\n" + links)
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("the lab has 20001 links, more than nslab deploys") == true)
    }

    /// Aliases are YAML, and sharing settings through them is allowed; they are resolved, not
    /// expanded into copies, so a nested alias costs what it reads.
    @Test func aliasesThatShareSettingsAreAccepted() throws {
        let lab = try #require(decode("name: lab\nnodes:\n  a: &router { kind: router }\n  b: *router\n"))
        #expect(lab.nodes.map(\.kind) == [.router, .router])
    }
}
