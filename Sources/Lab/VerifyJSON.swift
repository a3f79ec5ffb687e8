import Foundation

extension Verifier {
    /// The report as JSON, byte for byte what JSONEncoder writes with `.prettyPrinted,
    /// .sortedKeys, .withoutEscapingSlashes`, but with the pairs encoded one at a time: the
    /// encoder builds the whole document in memory first, which took 1.3 GiB for a run of a
    /// million failed pairs. `write` gets the text in pieces.
    public static func writeJSON(_ report: VerifyReport, write: (String) -> Void) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var frame = report
        frame.pairs = []
        let text = String(decoding: try encoder.encode(frame), as: UTF8.self)
        // The encoder writes an empty list as "[", a blank line, and "]" indented as its key.
        let emptyPairs = "\n  \"pairs\" : [\n\n  ]"
        guard !report.pairs.isEmpty, let place = text.range(of: emptyPairs) else {
            write(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        write(String(text[..<place.lowerBound]) + "\n  \"pairs\" : [\n")
        for (index, pair) in report.pairs.enumerated() {
            let object = String(decoding: try encoder.encode(pair), as: UTF8.self)
            let indented = object.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
            write(indented + (index == report.pairs.count - 1 ? "\n" : ",\n"))
        }
        write("  ]" + String(text[place.upperBound...]))
    }
}
