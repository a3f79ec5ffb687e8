/// The topology file as libyaml counts it: lines split at every YAML line break and columns in
/// Unicode scalars, so positions computed here agree with the marks Yams reports.
struct SourceText {
    private(set) var scalars: [Unicode.Scalar]
    /// Index into `scalars` where each line starts; line n (1-based) starts at lineStarts[n - 1].
    let lineStarts: [Int]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        var starts = [0]
        var i = 0
        while i < scalars.count {
            switch scalars[i] {
            case "\r":
                if i + 1 < scalars.count, scalars[i + 1] == "\n" { i += 1 }
                starts.append(i + 1)
            case "\n", "\u{85}", "\u{2028}", "\u{2029}":
                starts.append(i + 1)
            default:
                break
            }
            i += 1
        }
        lineStarts = starts
    }

    var text: String {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    func index(line: Int, column: Int) -> Int? {
        guard line >= 1, line <= lineStarts.count, column >= 1 else { return nil }
        let index = lineStarts[line - 1] + column - 1
        let end = line < lineStarts.count ? lineStarts[line] : scalars.count
        return index <= end ? index : nil
    }

    /// Line and column of the scalar at `offset` (0-based), for errors that come as offsets.
    func position(ofScalar offset: Int) -> (line: Int, column: Int) {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return (low + 1, offset - lineStarts[low] + 1)
    }

    /// True when `text` is written verbatim at the position, which makes offsets inside the
    /// value usable as column offsets (not so for folded or escaped scalars).
    func hasVerbatim(_ text: String, line: Int, column: Int) -> Bool {
        guard !text.contains(where: \.isNewline), let start = index(line: line, column: column) else { return false }
        let wanted = Array(text.unicodeScalars)
        guard start + wanted.count <= scalars.count else { return false }
        return Array(scalars[start..<(start + wanted.count)]) == wanted
    }

    /// The scalars at the position replaced by as many others; lines and columns stay valid.
    mutating func overwrite(line: Int, column: Int, with replacement: [Unicode.Scalar]) -> Bool {
        guard let start = index(line: line, column: column), start + replacement.count <= scalars.count else { return false }
        scalars.replaceSubrange(start..<(start + replacement.count), with: replacement)
        return true
    }

    func line(_ number: Int) -> String {
        guard number >= 1, number <= lineStarts.count else { return "" }
        let start = lineStarts[number - 1]
        var end = number < lineStarts.count ? lineStarts[number] : scalars.count
        while end > start, ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains(scalars[end - 1]) { end -= 1 }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[start..<end])
        return String(out)
    }
}
