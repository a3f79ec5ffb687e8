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
        `ip -n NODE …` work on every node. Exit status: 0 success, 1 failure, 2 bad input.
        """,
        version: NSLabVersion.line,
        subcommands: [Deploy.self, Diff.self, ValidateCommand.self, Destroy.self, List.self, Inspect.self, Exec.self, Ping.self, Trace.self,
                      Explain.self, Verify.self, Generate.self, Script.self, Doctor.self, LinkCommand.self,
                      Capture.self, Graph.self, Serve.self, Events.self, NodeCommand.self, WaitCommand.self, Adopt.self, Export.self]
    )

    /// ArgumentParser exits 64 (EX_USAGE) on a bad flag or value; nslab promises 2 for every
    /// kind of bad input, so usage errors are mapped to it.
    static func main() {
        ResourceLimits.raiseOpenFileLimit()  // soft to hard, as Go programs do: labs need a file per node or two
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

/// `--lab LAB`, the same on every command that names a node: which deployed lab the node is in,
/// needed only when several deployed labs have a node of that name.
struct LabOption: ParsableArguments {
    @Option(help: ArgumentHelp("The lab the node is in; needed only when several deployed labs have a node of that name.",
                               valueName: "LAB"))
    var lab: String?
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
        discussion: "Works from the lab's record under /run/nslab, so the topology file may be gone. Destroying a lab that is not deployed is not an error.")

    @Argument(help: "A lab name or its topology file.")
    var lab: String?

    @Flag(help: "Destroy every lab nslab has a record of.")
    var all = false

    func validate() throws {
        if all == (lab != nil) { throw ValidationError("name one lab (or its topology file), or use --all") }
    }

    func run() throws {
        // A destroy stopped half-way would leave a half lab: Ctrl-C is noted and ignored, and
        // the destroy (seconds at most) runs to its end.
        Interruption.catchSignals()
        try reportingErrors {
            let results: [DestroyResult]
            if all {
                results = try LabDestroyer.destroyAll()
                if results.isEmpty { print("no labs are deployed; nothing to do") }
            } else if let lab {
                results = [try LabDestroyer.destroy(lab: try labName(from: lab))]
            } else {
                results = []
            }
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
    static let configuration = CommandConfiguration(abstract: "List deployed labs.")

    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        try reportingErrors {
            let labs = LabListing.all()
            if json { return try printJSON(labs) }
            if labs.isEmpty { return print("no labs are deployed") }
            let rows = labs.map { [$0.lab, String($0.nodes), $0.complete ? "deployed" : "incomplete", $0.deployedAt ?? "-", $0.file ?? "-"] }
            print(Table(header: ["LAB", "NODES", "STATUS", "SINCE", "FILE"], rows: rows).render())
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a lab as the kernel has it: interfaces, addresses, peers, routes, forwarding.")

    @Argument(help: "A lab name or its topology file.")
    var lab: String

    @Flag(help: "The stable JSON document described in the README.")
    var json = false

    func run() throws {
        try reportingErrors {
            let state = try LabInspector.inspect(lab: try labName(from: lab))
            if json { return try printJSON(state) }
            print(InspectView(state).render())
        }
    }
}
