#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Topology {
    /// Reads, decodes and validates a topology file. Every problem found is thrown at once,
    /// in file order; a file that cannot be read is one diagnostic at `path:1:1`.
    public static func load(path: String) throws(TopologyError) -> Topology {
        let text = try readText(path: path)
        return try parse(yaml: text, file: path)
    }

    /// Decodes and validates topology YAML; `file` is used in locations and kept in the model.
    public static func parse(yaml: String, file: String) throws(TopologyError) -> Topology {
        var decoder = TopologyDecoder(yaml: yaml, file: file)
        let decoded = decoder.decode()
        var diagnostics = decoder.diagnostics
        var topology: Topology?
        if var lab = decoded {
            var validator = Validator()
            validator.validate(&lab)
            diagnostics += validator.diagnostics
            topology = lab.topology(file: file)
        }
        if var topology, diagnostics.isEmpty {
            switch topology.routing {
            case .static: topology = StaticRouting.apply(to: topology)
            // Routers learn theirs from the protocol; hosts get what static routing gives them.
            case .ospf, .bgp: topology = StaticRouting.apply(to: topology, only: { !$0.kind.forwards })
            case .none: break
            }
            return topology
        }
        throw TopologyError(sortedByLocation(diagnostics))
    }

    /// File order; for one position the order of discovery, which goes from the general to the
    /// specific. Identical diagnostics (one mistake seen from two sides) are kept once.
    static func sortedByLocation(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        var seen = Set<Diagnostic>()
        let unique = diagnostics.filter { seen.insert($0).inserted }
        return unique.enumerated().sorted { a, b in
            let (x, y) = (a.element.location, b.element.location)
            if x.file != y.file { return x.file < y.file }
            if x.line != y.line { return x.line < y.line }
            if x.column != y.column { return x.column < y.column }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// The file's text, or one diagnostic saying why it cannot be used: unreadable, a directory,
    /// or not UTF-8 (with the line and column of the first bad byte).
    public static func readText(path: String) throws(TopologyError) -> String {
        let here = SourceLocation(file: path, line: 1, column: 1)
        func failure(_ reason: String, hint: String? = nil) -> TopologyError {
            TopologyError([Diagnostic(here, "cannot read topology file '\(path)': \(reason)", hint: hint)])
        }
        func systemFailure(_ code: Int32) -> TopologyError {
            let hint: String? = switch code {
            case ENOENT: "check the path; it is relative to the current directory"
            case EACCES, EPERM: "check the file's permissions"
            default: nil
            }
            return failure(String(cString: strerror(code)), hint: hint)
        }

        // "-": standard input (what a spread lab's controller sends each host over ssh).
        let fd = path == "-" ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw systemFailure(errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw systemFailure(errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw failure("it is a directory", hint: "give the path of a .yaml file") }

        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw systemFailure(errno)
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }

        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let (line, column) = firstInvalidUTF8(bytes)
        throw TopologyError([Diagnostic(SourceLocation(file: path, line: line, column: column),
                                        "topology file is not valid UTF-8",
                                        hint: "save the file as UTF-8")])
    }

    /// Where decoding first fails, counted like the YAML locations (lines, Unicode scalars).
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> (line: Int, column: Int) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var line = 1, column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput, .error:
                return (line, column)
            }
        }
    }
}
