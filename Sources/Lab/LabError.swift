import Netlink
import Namespaces
import Topology

/// Everything that can stop a lab command, each saying what to do next. `exitCode` follows the
/// CLI convention: 2 for bad input or a refused request (nothing changed), 1 for a failure.
public enum LabError: Error, CustomStringConvertible, Sendable {
    case topology(TopologyError)
    case invalidLabName(String)
    case collision([String])
    case notDeployed(String)
    case lockedByAnother(lab: String)
    case privileges(String)
    case kernel(NetlinkError, node: String?)
    case namespace(NamespaceError)
    case system(SystemCallError, context: String)
    case record(lab: String, problem: String)
    case unknownNode(lab: String, node: String, known: [String])
    /// No deployed lab has this node; the closest node name, if any, and the lab it is in.
    case nodeNotDeployed(node: String, suggestion: (node: String, lab: String)?, labs: [String])
    case ambiguousNode(node: String, labs: [String])
    /// A request nslab will not carry out as things are (nothing was changed).
    case refused(String)
    case spawn(SpawnError, node: String)
    /// A signal stopped a deploy; what it had created was removed.
    case interrupted(signal: Int32)

    public var exitCode: Int32 {
        switch self {
        case .topology, .invalidLabName, .collision,
             .privileges, .unknownNode, .notDeployed, .nodeNotDeployed, .ambiguousNode, .refused:
            return 2
        case .spawn(let error, _):
            return error.exitStatus
        case .interrupted(let signal):
            return 128 + signal
        default:
            return 1
        }
    }

    public var description: String {
        switch self {
        case .topology(let error):
            return error.description
        case .invalidLabName(let name):
            return "\"\(name)\" is not a lab name: use letters, digits, '.', '_' and '-' (the name after `name:` in the topology file)"
        case .collision(let problems):
            return "cannot deploy: names are already taken by things nslab did not create (nothing was changed):\n"
                + problems.map { "  - \($0)" }.joined(separator: "\n")
                + "\n  rename the nodes, set `prefix:` in the topology file, or remove what holds the names"
        case .notDeployed(let lab):
            return "lab \"\(lab)\" is not deployed (no record in \(LabRecord.root)); `nslab list` shows the labs that are"
        case .lockedByAnother(let lab):
            return "lab \"\(lab)\" is being changed by another nslab process; wait for it to finish and try again"
        case .privileges(let text):
            return text
        case .kernel(let error, let node):
            return (node.map { "node \($0): " } ?? "") + error.description
        case .namespace(let error):
            return error.description
        case .system(let error, let context):
            return "\(context): \(error)"
        case .record(let lab, let problem):
            return "the record of lab \"\(lab)\" is unusable: \(problem); `nslab destroy \(lab)` removes what it lists"
        case .unknownNode(let lab, let node, let known):
            return "lab \"\(lab)\" has no node \"\(node)\"; its nodes: \(known.joined(separator: ", "))"
        case .nodeNotDeployed(let node, let suggestion, let labs):
            if let suggestion {
                return "no deployed lab has a node \"\(node)\"; did you mean \"\(suggestion.node)\" (lab \(suggestion.lab))?"
            }
            if labs.isEmpty { return "no deployed lab has a node \"\(node)\": no labs are deployed (`nslab deploy FILE`)" }
            return "no deployed lab has a node \"\(node)\" (deployed labs: \(labs.joined(separator: ", "))); `nslab inspect LAB` lists a lab's nodes"
        case .ambiguousNode(let node, let labs):
            return "node \"\(node)\" is in several labs: \(labs.joined(separator: ", ")); say which with --lab LAB"
        case .refused(let text):
            return text
        case .interrupted(let signal):
            let name = [2: "SIGINT", 15: "SIGTERM", 1: "SIGHUP"][signal] ?? "signal \(signal)"
            return "interrupted by \(name): everything this deploy had created was removed, as if it never ran"
        case .spawn(let error, let node):
            return "node \(node): \(error)"
        }
    }
}
