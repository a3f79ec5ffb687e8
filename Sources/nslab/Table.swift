/// Columns padded to their widest cell, as `ip -br` and containerlab print tables.
struct Table {
    var header: [String]
    var rows: [[String]]
    var indent = ""

    func render() -> String {
        let all = [header] + rows
        let widths = (0..<header.count).map { column in all.map { $0.count > column ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            var line = indent
            for (column, cell) in row.enumerated() {
                line += column == row.count - 1 ? cell : cell.padding(to: widths[column] + 2)
            }
            return line
        }.joined(separator: "\n")
    }
}

extension String {
    func padding(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
