import ArgumentParser
import Foundation
import Lab
import Topology

@main
struct NSLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nslab",
        abstract: "Virtual networks of Linux network namespaces, from one topology file.",
        discussion: """
        Namespaces are named like iproute2's, so `ip netns list`, `ip netns exec NODE …` and \
        `ip -n NODE …` work on every node. \(ExitStatus.standard) Each command's help says what \
        1 means for it.
        """,
        version: NSLabVersion.line,
        subcommands: [Deploy.self, Diff.self, ValidateCommand.self, Destroy.self, List.self, Inspect.self, Exec.self, Ping.self, Trace.self,
                      Explain.self, Verify.self, Generate.self, Script.self, Doctor.self, LinkCommand.self,
                      Capture.self, Graph.self, Serve.self, Events.self, NodeCommand.self, WaitCommand.self, Adopt.self, Export.self, VersionCommand.self, Model.self]
    )

    /// ArgumentParser exits 64 (EX_USAGE) on a bad flag or value; nslab promises 2 for every
    /// kind of bad input, so usage errors are mapped to it.
    static func main() {
        ResourceLimits.raiseOpenFileLimit()  // soft to hard, as Go programs do: labs need a file per node or two
        ResourceLimits.shareMallocArena()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code.rawValue == 64 {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Runs a command body, printing errors the way every subcommand does and exiting with the
/// error's own status (2 for bad input, 1 for failures).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as LabError {
        FileHandle.standardError.write(Data("nslab: \(error)\n".utf8))
        throw ExitCode(error.exitCode)
    } catch let error as TopologyError {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        throw ExitCode(2)
    } catch let error as BadInput {
        FileHandle.standardError.write(Data("nslab: \(error.message)\n".utf8))
        throw ExitCode(2)
    }
}

/// `--lab LAB`, declared once: the deployed lab a command works in. Commands that name a node
/// need it only when several deployed labs have a node of that name; doctor keeps to that lab.
struct LabOption: ParsableArguments {
    @Option(help: ArgumentHelp("The deployed lab to work in; needed only when a node name alone is ambiguous (several labs have it).",
                               valueName: "LAB"))
    var lab: String?
}

/// `-q/--quiet`, declared once: every command that shows progress on stderr has it.
struct QuietOption: ParsableArguments {
    @Flag(name: .shortAndLong, help: "No progress on stderr (progress shows only for work that takes more than a moment).")
    var quiet = false
}

/// The exit statuses every command keeps to, said in each command's help: 0 done, 1 a check
/// failed (or the work did), 2 bad input or a refused request.
enum ExitStatus {
    static let standard = "Exit status: 0 done, 1 failed, 2 bad input or refused (nothing changed)."
}

/// A request the command line itself refuses (exit 2), said in one line with what to do.
struct BadInput: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

struct Destroy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a lab: everything it created, and nothing else.",
        discussion: "Works from the lab's record under /run/nslab, so the topology file may be gone. Destroying a lab that is not deployed is not an error. \(ExitStatus.standard)")

    @Argument(help: "A lab name or its topology file.")
    var lab: String?

    @Flag(help: "Destroy every lab nslab has a record of.")
    var all = false

    @OptionGroup var output: QuietOption

    func validate() throws {
        if all == (lab != nil) { throw ValidationError("name one lab (or its topology file), or use --all") }
    }

    func run() throws {
        // A destroy stopped half-way would leave a half lab: Ctrl-C is noted and ignored, and
        // the destroy (seconds at most) runs to its end.
        Interruption.catchSignals()
        try reportingErrors {
            let progress = Progress(enabled: !output.quiet)
            defer { progress.finish() }
            let results: [DestroyResult]
            if let lab, !all, SpreadLab.isSpread(lab: try labName(from: lab)) {
                progress.finish()
                return try SpreadCommands.destroy(lab: try labName(from: lab))
            }
            if all {
                for lab in LabRecord.labs() where SpreadLab.isSpread(lab: lab) { try SpreadCommands.destroy(lab: lab) }
                results = try LabDestroyer.destroyAll(progress: progress.stage)
                if results.isEmpty { print("no labs are deployed; nothing to do") }
            } else if let lab {
                results = [try LabDestroyer.destroy(lab: try labName(from: lab), progress: progress.stage)]
            } else {
                results = []
            }
            progress.finish()
            for result in results {
                if !result.existed {
                    print("lab \(result.lab) is not deployed; nothing to do")
                    continue
                }
                var line = "lab \(result.lab) destroyed: \(counted(result.namespacesRemoved.count, "namespace")) removed"
                if result.processesEnded > 0 { line += ", \(counted(result.processesEnded, "process", "processes")) ended" }
                print(line)
                for name in result.namespacesSkipped {
                    note("nslab: left namespace \(name) alone: it is no longer the one this lab created")
                }
            }
        }
    }
}

/// A lab argument may be the lab's name or the topology file that names it.
func labName(from argument: String) throws -> String {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), !isDirectory.boolValue {
        return try Topology.load(path: argument).name
    }
    return argument
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List deployed labs.",
        discussion: "Each lab with its number of nodes, whether its deploy finished, since when and from which file. \(ExitStatus.standard)")

    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        try reportingErrors {
            let labs = LabListing.all()
            if json { return try printJSON(labs) }
            if labs.isEmpty { return print("no labs are deployed") }
            let rows = labs.map {
                [$0.lab, String($0.nodes), ($0.complete ? "deployed" : "incomplete") + ($0.hosts.map { ", also on \($0.joined(separator: ", "))" } ?? ""),
                 $0.deployedAt ?? "-", $0.file ?? "-"]
            }
            print(Table(header: ["LAB", "NODES", "STATUS", "SINCE", "FILE"], rows: rows).render())
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a lab as the kernel has it: interfaces, addresses, peers, routes, forwarding.",
        discussion: "Read from the kernel in every node the lab's record lists, and from the record: nodes, interfaces, peers, addresses, routes, forwarding, impairments, /etc files and processes. \(ExitStatus.standard)")

    @Argument(help: "A lab name or its topology file.")
    var lab: String

    @Flag(help: "The stable JSON document described in the README.")
    var json = false

    func run() throws {
        try reportingErrors {
            let name = try labName(from: lab)
            let show = {
                let state = try LabInspector.inspect(lab: name)
                if json { return try printJSON(state) }
                print(InspectView(state).render())
            }
            if SpreadLab.isSpread(lab: name) {
                return try SpreadCommands.onEveryHost(lab: name, ["inspect", name] + (json ? ["--json"] : []), json: json, local: show)
            }
            try show()
        }
    }
}
