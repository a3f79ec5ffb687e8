import ArgumentParser
import Foundation
import Lab

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command inside a node, as `ip netns exec` does.",
        discussion: """
        The command gets the node's network, a /sys of its own (`ls /sys/class/net` lists the node's \
        interfaces), the node's /etc files (/etc/netns/NODE/* over /etc/*, so other nodes resolve by \
        name) and the node's host name; stdin, stdout, stderr and the terminal are this command's \
        (`nslab exec ns01 -- bash` is an interactive shell). Exit status: the command's \
        (128 + N when signal N ended it, 127 when it is not found), 2 bad input. With -d the command runs in the background: its output goes \
        to a log under /run/nslab/LAB/logs/, its pid is printed, `nslab inspect` shows whether it \
        still runs and `nslab destroy` ends it.
        """)

    @OptionGroup var labOption: LabOption

    @Flag(name: [.customShort("d"), .customLong("detach")], help: "Start the command in the background and print its pid.")
    var detach = false

    @Argument(help: "The node: its name in the topology (or its namespace name).")
    var node: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments, after `--`.")
    var command: [String] = []

    /// Everything after the node; a leading `--` only separates it from nslab's own options.
    var commandLine: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        if commandLine.isEmpty { throw ValidationError("give the command to run after the node: nslab exec \(node) -- COMMAND …") }
    }

    func run() throws {
        SpreadCommands.forward(node: node, lab: labOption.lab)
        try reportingErrors {
            let location = try NodeExec.locate(node: node, lab: labOption.lab)
            if detach {
                let started = try NodeExec.start(commandLine, at: location)
                print(started.pid)
                note("nslab: started in node \(location.node) of lab \(location.lab); output in \(started.log)")
                return
            }
            let status = try NodeExec.run(commandLine, at: location)
            if status != 0 { throw ExitCode(status) }
        }
    }
}
