import Namespaces
import Netlink

/// A node's netlink event socket, opened inside the node's namespace: the kernel pushes every
/// change of that node to it, nothing is polled. What `nslab serve` and `nslab events` both
/// listen to. The socket keeps its namespace alive while it is open: close it (drop the
/// subscription) as soon as the namespace is deleted.
public final class NodeSubscription: @unchecked Sendable {
    public let lab: String
    public let node: String
    public let namespace: String
    public let socket: NetlinkEventSocket
    /// The sequence of the dump in flight on the socket, if any (one at a time).
    public var pendingDump: UInt32?

    init(lab: String, node: String, namespace: String, socket: NetlinkEventSocket) {
        self.lab = lab; self.node = node; self.namespace = namespace; self.socket = socket
    }

    /// Opens one socket per namespace, on threads that enter each namespace and exit after. A
    /// namespace that is gone or no longer the one the record confirmed (a different inode) gets
    /// none.
    public static func open(lab: String, namespaces: [(name: String, node: String)], inodes: [String: UInt64],
                            groups: [NetlinkGroup]) -> [NodeSubscription] {
        let opened = (try? NamespaceThread.forEach(namespaces, threads: 2) { entry -> NodeSubscription? in
            guard let inode = inodes[entry.name], let namespace = try? NetworkNamespace.open(entry.name),
                  namespace.inode == inode else { return nil }
            // A worker of forEach: it exits once the socket is open. One namespace deleted
            // meanwhile costs only its own socket.
            guard (try? namespace.enter()) != nil, let socket = try? NetlinkEventSocket(groups: groups) else { return nil }
            return NodeSubscription(lab: lab, node: entry.node, namespace: entry.name, socket: socket)
        }) ?? []
        return opened.compactMap { $0 }
    }

    /// Every node of a deployed lab, as its record lists them.
    public static func open(_ summary: RecordSummary, groups: [NetlinkGroup]) -> [NodeSubscription] {
        open(lab: summary.lab, namespaces: summary.namespaces, inodes: summary.inodes, groups: groups)
    }
}
