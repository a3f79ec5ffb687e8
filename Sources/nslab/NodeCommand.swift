import ArgumentParser
import Foundation
import Lab

struct NodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Stop, start or restart a node of a deployed lab, keeping it in the lab.",
        discussion: """
          stop     ends every process in the node and takes its interfaces down: the nodes on the \
        other ends of its links see their carrier go. The namespace, its addresses and the record stay.
          start    brings its interfaces, addresses and routes back as the lab's topology has them, \
        and starts its commands again.
          restart  stop, then start.
        A stopped node stays stopped through `nslab deploy` until `deploy --reset` (or start). \
        Exit status: 0 done, 1 failed, 2 bad input.
        """)

    @Argument(help: "The lab.")
    var lab: String

    @Argument(help: "The node.")
    var node: String

    @Argument(help: "stop, start or restart.")
    var action: String

    func validate() throws {
        guard ["stop", "start", "restart"].contains(action) else {
            throw ValidationError("the action is stop, start or restart, not \"\(action)\"")
        }
    }

    func run() throws {
        SpreadCommands.forward(node: node, lab: lab)
        try reportingErrors {
            if action == "stop" || action == "restart" {
                let result = try NodeLifecycle.stop(lab: lab, node: node)
                print("node \(node) stopped: \(counted(result.interfaces.count, "interface")) down, "
                      + "\(counted(result.processesEnded, "process", "processes")) ended")
            }
            if action == "start" || action == "restart" {
                let result = try NodeLifecycle.start(lab: lab, node: node)
                print("node \(node) started: \(counted(result.interfaces.count, "interface")) up, "
                      + "\(counted(result.processesStarted, "command")) started")
            }
        }
    }
}
