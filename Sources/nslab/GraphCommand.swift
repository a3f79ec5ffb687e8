import ArgumentParser
import Drawing
import Foundation
import Lab
import Topology

extension DotRenderer.Layout: ExpressibleByArgument {}

struct Graph: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case svg, png, dot, mermaid, ascii

        /// From an output file's extension: lab.svg, lab.png, lab.dot (or .gv), lab.mmd, lab.txt.
        init?(fileName: String) {
            let known: [String: Format] = ["svg": .svg, "png": .png, "dot": .dot, "gv": .dot, "mmd": .mermaid,
                                           "mermaid": .mermaid, "txt": .ascii]
            guard let dot = fileName.lastIndex(of: "."), let format = known[fileName[fileName.index(after: dot)...].lowercased()]
            else { return nil }
            self = format
        }
    }

    static let configuration = CommandConfiguration(
        abstract: "Draw a lab: nodes by kind, every link with both interfaces and addresses, down and impaired links marked.",
        discussion: """
        LAB, a deployed lab, is drawn as the kernel has it now: links that are down, \
        impairments installed (nslab link). FILE, a topology file, is drawn as it declares it.
        Formats:
          ascii     text within 80 columns: a drawing, or a list for large labs
          dot       Graphviz source
          mermaid   a Mermaid flowchart, for Markdown
          svg, png  laid out by Graphviz's dot (apt-get install graphviz)
        Without --format, the format follows -o's extension (.svg, .png, .dot, .mmd, .txt), \
        else ascii. \
        \(ExitStatus.standard)
        """)

    @Argument(help: "A deployed lab's name or a topology file.")
    var lab: String

    @Option(help: "The format.")
    var format: Format?

    @Option(name: .shortAndLong, help: "Write to this file instead of stdout.")
    var output: String?

    @Option(help: "Columns for ascii.")
    var width: Int = 80

    @Option(help: "For svg, png and dot: ranked (left to right from the first node) or force (spread out); by default ranked, except force for labs of more than 40 nodes with no more than 6 links on any.")
    var layout: DotRenderer.Layout?

    func run() throws {
        try reportingErrors {
            let format = format ?? output.flatMap(Format.init(fileName:)) ?? .ascii
            if format == .png && output == nil && isatty(STDOUT_FILENO) == 1 {
                throw BadInput("png is binary: write it to a file with -o FILE.png (or redirect stdout to one)")
            }
            let picture = try Self.picture(of: lab)
            switch format {
            case .ascii: try write(AsciiRenderer.render(picture, width: width))
            case .dot: try write(DotRenderer.render(picture, layout: layout))
            case .mermaid: try write(MermaidRenderer.render(picture))
            case .svg, .png: try Graphviz.render(DotRenderer.render(picture, layout: layout), format: format.rawValue, to: output)
            }
        }
    }

    /// A path that exists is a topology file; anything else names a deployed lab.
    static func picture(of argument: String) throws -> Picture {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw BadInput("\(argument) is a directory; give a topology file or a deployed lab's name") }
            return Picture(try TopologyFile.load(argument).topology)
        }
        if (try? LabRecord.validate(lab: argument)) != nil, LabRecord.exists(lab: argument) {
            // A lab over several hosts: the whole lab, each host's part as it is there now.
            if SpreadLab.isSpread(lab: argument) {
                let (picture, unread) = try LabPicture.readSpread(lab: argument)
                for problem in unread { note("nslab: \(problem); its nodes are drawn as gone") }
                return picture
            }
            return try LabPicture.read(lab: argument)
        }
        let labs = LabRecord.labs()
        throw BadInput("\(argument) is neither a file nor a deployed lab; give the path of a topology file, or the name of "
                       + (labs.isEmpty ? "a lab deployed with `nslab deploy FILE` (none is)" : "a deployed lab: \(labs.joined(separator: ", "))"))
    }

    func write(_ text: String) throws {
        guard let output else { return print(text, terminator: "") }
        do {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
        } catch {
            note("nslab graph: cannot write \(output): \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }
}

/// Graphviz's `dot`, run without a shell on the DOT text (in a temporary file), writing the
/// picture to a file (`-o`) or straight to nslab's stdout. The DOT text names its own layout
/// engine (`layout=…`), which dot follows.
enum Graphviz {
    static let missing = "nslab graph: svg and png need Graphviz's dot: apt-get install graphviz (dot, mermaid and ascii need nothing)"

    static func render(_ dot: String, format: String, to output: String?) throws {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .map { "\($0)/dot" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            note(missing)
            throw ExitCode(1)
        }
        // A file of our own (mkstemps: a new name, created exclusively, mode 0600), never a shell pipe.
        var template = Array((FileManager.default.temporaryDirectory.path + "/nslab-graph-XXXXXX.dot").utf8CString)
        let fd = mkstemps(&template, 4)
        guard fd >= 0 else {
            note("nslab graph: cannot create a temporary file: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        let source = String(cString: template)
        defer { unlink(source) }
        let bytes = Array(dot.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else {
            note("nslab graph: cannot write \(source)")
            throw ExitCode(1)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-T\(format)", source] + (output.map { ["-o", $0] } ?? [])
        do {
            try process.run()
        } catch {
            note("nslab graph: cannot run \(path): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal {
            // SIGPIPE: whatever read the picture (`| head`) stopped reading; nothing to say.
            if process.terminationStatus != SIGPIPE { note("nslab graph: \(path) was ended by signal \(process.terminationStatus)") }
            throw ExitCode(128 + process.terminationStatus)
        }
        guard process.terminationStatus == 0 else {
            note("nslab graph: \(path) -T\(format) failed (status \(process.terminationStatus)); its message is above")
            throw ExitCode(1)
        }
    }
}
