import Foundation
import NetAddress
import Topology

/// A spread lab's path model: every host's part read where it runs (`nslab model` there), joined
/// into one across the links between hosts, so explain walks a path from end to end and back.
public struct SpreadModel: Sendable {
    public var model: NetworkModel
    /// The whole lab as recorded here: the routes' reasons of every node.
    public var topology: Topology
    /// Node → its host, for the nodes on other machines.
    public var hosts: [String: String]
    /// Hosts whose part could not be read, and why: a walk stops at the links to them.
    public var unread: [String]
}

extension SpreadLab {
    /// The whole lab's model, from this machine's part (`local`) and every host's.
    static func model(lab: String, local: LabNetwork) throws -> SpreadModel {
        let whole = try recorded(lab: lab)
        let hosts = whole.hostsWithNodes.map(RemoteHost.init)
        defer { RemoteHosts.closeConnections(hosts) }
        let outcomes = RemoteHosts.each(hosts) { RemoteHosts.nslab($0, ["model", lab]) }
        var others: [ModelNode] = []
        var unread: [String] = []
        for outcome in outcomes {
            guard outcome.succeeded, let nodes = try? JSONDecoder().decode([ModelNode].self, from: Data(outcome.output.utf8)) else {
                unread.append("host \(outcome.host ?? ""): \(outcome.unreachable ? "cannot be reached: " : "")\(outcome.reason)")
                continue
            }
            others += nodes
        }
        let links = whole.crossHostLinks.map { pair in
            (InterfaceRef(node: pair.link.endpoints[0].node, interface: pair.link.endpoints[0].interface),
             InterfaceRef(node: pair.link.endpoints[1].node, interface: pair.link.endpoints[1].interface))
        }
        let placement = Dictionary(whole.nodes.compactMap { node in node.host.map { (node.name, $0) } }, uniquingKeysWith: { first, _ in first })
        return SpreadModel(model: local.model().joined(with: others, across: links), topology: whole, hosts: placement, unread: unread)
    }

    /// A real echo from `source`, a node on `host`: ping there, one request. What it got, in
    /// explain's words, and whether a reply came.
    static func echo(from source: String, on host: RemoteHost, lab: String, to destination: IPAddress,
                     sourceAddress: IPAddress?, ttl: Int) -> (text: String, reply: Bool) {
        let ping = ["exec", "--lab", lab, source, "ping", "-n", "-c1", "-W1", "-t", String(ttl)]
            + (sourceAddress.map { ["-I", $0.description] } ?? [])
            + [destination.description]
        let outcome = RemoteHosts.nslab(host, ping)
        if outcome.unreachable { return ("not sent: host \(host.name) cannot be reached (\(outcome.reason))", false) }
        return outcome.succeeded ? ("reply from \(destination) (ping on \(host.name))", true) : ("no reply (ping on \(host.name))", false)
    }
}
