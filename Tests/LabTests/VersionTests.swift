import Foundation
import Testing

/// `nslab --version`: the number written once in Sources/nslab/Version.swift, and the commit
/// (scripts/package.sh compiles it in; the plain build `swift test` makes says "unknown").
@Suite struct VersionTests {
    @Test func versionIsTheOneInVersionSwiftWithTheCommit() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/nslab/Version.swift")
        let text = try String(contentsOf: source, encoding: .utf8)
        let numberLine = try #require(text.split(separator: "\n").first { $0.contains("static let number = \"") })
        let number = try #require(numberLine.split(separator: "\"").dropFirst().first.map(String.init))
        #expect(number.split(separator: ".").count == 3 && number.split(separator: ".").allSatisfy { Int($0) != nil },
                "not a MAJOR.MINOR.PATCH version: \(number)")

        let result = sh("\(nslabBinary) --version")
        #expect(result.status == 0)
        #expect(result.output == "\(number) (commit unknown)\n", "\(result.output)")
        // Every subcommand answers --version the same way.
        #expect(sh("\(nslabBinary) validate --version").output == result.output)
    }
}
