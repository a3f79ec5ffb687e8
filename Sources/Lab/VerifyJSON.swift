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
        // A few thousand pairs per encoding, inside an object like the report so that the
        // encoder indents them as they stand in it: one pair per call cost half as much time again.
        struct Chunk: Encodable { var pairs: [PairResult] }
        let (head, tail) = ("{\n  \"pairs\" : [\n", "\n  ]\n}")
        var start = 0
        while start < report.pairs.count {
            let end = min(start + 4096, report.pairs.count)
            let chunk = String(decoding: try encoder.encode(Chunk(pairs: Array(report.pairs[start..<end]))), as: UTF8.self)
            guard chunk.hasPrefix(head), chunk.hasSuffix(tail) else {
                throw EncodingError.invalidValue(chunk.prefix(40), .init(codingPath: [], debugDescription: "unexpected layout of the encoder's output"))
            }
            write(String(chunk.dropFirst(head.count).dropLast(tail.count)) + (end == report.pairs.count ? "\n" : ",\n"))
            start = end
        }
        write("  ]" + String(text[place.upperBound...]))
    }
}
