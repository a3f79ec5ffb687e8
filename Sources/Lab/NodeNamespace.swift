import Synchronization
import Netlink
import Namespaces

/// A node's namespace as deploy and converge know it between their steps: its name and the inode
/// nslab recorded, and no open file. Each step opens it again by its path where it needs it:
/// holding every node's namespace and a netlink socket for a whole deploy cost 2 files per node
/// (20,000 for 10,000 nodes, beyond a stock session's 1,024), while opening one again costs a
/// path lookup and a check of its inode.
struct NodeNamespace: Sendable, Hashable {
    var name: String
    var inode: UInt64

    /// The namespace, if it is still the one nslab created: a namespace mounted under the same
    /// name since (different inode) is someone else's and is refused.
    func open() throws -> NetworkNamespace {
        let namespace = try NetworkNamespace.open(name)
        guard namespace.inode == inode else {
            throw LabError.refused("namespace \(name) is no longer the one nslab created (inode \(namespace.inode), "
                                   + "recorded \(inode)); run `nslab deploy` again")
        }
        return namespace
    }

    /// Enters the namespace on the calling thread (a NamespaceThread worker, which exits when its
    /// work is done) and opens a netlink socket there; the namespace's own file is closed again.
    func enterWithSocket() throws -> NetlinkSocket {
        try open().enter()
        return try NetlinkSocket()
    }
}

/// Nodes' namespaces and a netlink socket in each, opened on demand and kept for the next request
/// to the same node, at most `capacity` nodes' at once: the least recently used is closed to
/// make room. Converge touches the nodes its changes name, in change order, and returns to the
/// same few again and again (a link's two ends, a node's addresses then its routes).
final class OpenNamespaces: Sendable {
    /// 2 files per node kept: 64 files, well inside the smallest limit nslab works under.
    static let defaultCapacity = 32

    struct Opened {
        let namespace: NetworkNamespace
        let socket: NetlinkSocket
    }

    private struct State {
        var opened: [NodeNamespace: Opened] = [:]
        /// Least recently used first.
        var order: [NodeNamespace] = []
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = OpenNamespaces.defaultCapacity) { self.capacity = max(1, capacity) }

    /// The node's namespace and socket, opened if they are not. A caller holding what this returns
    /// keeps those files open past an eviction, until it lets go: callers use them for one request.
    func open(_ node: NodeNamespace) throws -> Opened {
        if let known = state.withLock({ state -> Opened? in
            guard let known = state.opened[node] else { return nil }
            state.order.removeAll { $0 == node }
            state.order.append(node)
            return known
        }) { return known }
        let namespace = try node.open()
        let opened = Opened(namespace: namespace, socket: try namespace.openSocket())
        state.withLock { state in
            while state.opened.count >= capacity, !state.order.isEmpty {
                state.opened[state.order.removeFirst()] = nil
            }
            state.opened[node] = opened
            state.order.append(node)
        }
        return opened
    }

    /// Closes everything kept.
    func closeAll() {
        state.withLock { $0 = State() }
    }
}
