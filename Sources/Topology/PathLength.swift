/// How far apart a lab's nodes are, in the hops that cost a packet TTL: the TTL a node's kernel
/// sends with (64 unless told otherwise) must cover the longest path, or the far nodes' echo
/// replies expire on the way back. A 100×100 grid's far corners are 198 links apart.
///
/// A path joins two nodes with addresses (hosts, routers) by links whose inner nodes forward:
/// routers, and bridges, which pass frames on without taking from the TTL (a link into a bridge
/// counts nothing, one out of it counts one). Hosts are ends only, bridges never ends.
///
/// The longest path over all pairs is found without a search from every node where bounds
/// settle it: a double sweep gives a real path (a lower bound), and twice the eccentricity of a
/// forwarding node near the middle of that path bounds every distance from above (any two
/// nodes are joined through it). Only when the threshold lies between the two are the distances
/// searched from every node, stopping at the first long one.
struct PathLengths {
    /// Per node: (neighbour, what the link to it costs: 0 into a bridge, else 1).
    private var adjacency: [[(node: Int32, cost: Int32)]]
    private var forwards: [Bool]
    /// Has addresses: a path may start or end there.
    private var isEnd: [Bool]

    init(_ topology: Topology) {
        let positions = Dictionary(topology.nodes.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        forwards = topology.nodes.map { $0.kind.forwards || $0.kind == .bridge }
        let isBridge = topology.nodes.map { $0.kind == .bridge }
        isEnd = isBridge.map { !$0 }
        adjacency = Array(repeating: [], count: topology.nodes.count)
        for link in topology.links where link.endpoints.count == 2 {
            guard let a = positions[link.endpoints[0].node], let b = positions[link.endpoints[1].node], a != b else { continue }
            adjacency[a].append((Int32(b), isBridge[b] ? 0 : 1))
            adjacency[b].append((Int32(a), isBridge[a] ? 0 : 1))
        }
    }

    /// The length of some path longer than `limit` hops, or nil when every pair of nodes is at
    /// most `limit` apart (pairs in different parts of the lab are not joined at all).
    func pathLonger(than limit: Int) -> Int? {
        var seen = [Bool](repeating: false, count: adjacency.count)
        for start in adjacency.indices where !seen[start] && isEnd[start] {
            let first = distances(from: start)
            var component: [Int] = []
            for (node, distance) in first.distance.enumerated() where distance >= 0 {
                seen[node] = true
                component.append(node)
            }
            if let long = longest(in: component, firstSweep: first, limit: limit) { return long }
        }
        return nil
    }

    private func longest(in component: [Int], firstSweep: Search, limit: Int) -> Int? {
        guard component.count > 1 else { return nil }
        let far = firstSweep.farthest
        let sweep = distances(from: far)
        let lowerBound = Int(sweep.distance[sweep.farthest])
        if lowerBound > limit { return lowerBound }
        // A forwarding node halfway along that path; any forwarding node serves, nearer the
        // middle bounds closer.
        var middle = sweep.farthest
        var walked = 0
        while walked * 2 < lowerBound, sweep.parent[middle] >= 0 {
            middle = Int(sweep.parent[middle])
            walked = lowerBound - Int(sweep.distance[middle])
        }
        if !forwards[middle] { middle = component.first { forwards[$0] } ?? middle }
        // Through a forwarding node, every two ends are joined; from a bridge the distances
        // count one more than towards it, so twice its eccentricity still bounds.
        guard forwards[middle] else { return nil }   // hosts only, joined directly: one hop
        let fromMiddle = distances(from: middle)
        let upperBound = 2 * Int(fromMiddle.distance[fromMiddle.farthest])
        if upperBound <= limit { return nil }
        for source in component where isEnd[source] {
            let search = distances(from: source)
            let farthest = Int(search.distance[search.farthest])
            if farthest > limit { return farthest }
        }
        return nil
    }

    private struct Search {
        /// -1: not reached.
        var distance: [Int32]
        var parent: [Int32]
        /// The farthest end (the source when none is further).
        var farthest: Int
    }

    /// Shortest distances from `source` (a 0-1 breadth-first search: links into bridges cost 0),
    /// going on only from nodes that forward.
    private func distances(from source: Int) -> Search {
        var distance = [Int32](repeating: -1, count: adjacency.count)
        var parent = [Int32](repeating: -1, count: adjacency.count)
        var settled = [Bool](repeating: false, count: adjacency.count)
        // A deque as two stacks would do; an array with a moving head, and cost-0 steps put
        // before it, keeps the order without one.
        var queue: [Int32] = [Int32(source)]
        var front: [Int32] = []
        var head = 0
        distance[source] = 0
        var farthest = source
        while true {
            let node: Int
            if let next = front.popLast() {
                node = Int(next)
            } else if head < queue.count {
                node = Int(queue[head])
                head += 1
            } else {
                break
            }
            if settled[node] { continue }
            settled[node] = true
            if isEnd[node] && distance[node] > distance[farthest] { farthest = node }
            guard node == source || forwards[node] else { continue }
            for (next, cost) in adjacency[node] {
                let reached = distance[node] + cost
                let index = Int(next)
                if distance[index] >= 0 && distance[index] <= reached { continue }
                distance[index] = reached
                parent[index] = Int32(node)
                if cost == 0 { front.append(next) } else { queue.append(next) }
            }
        }
        return Search(distance: distance, parent: parent, farthest: farthest)
    }
}

extension Topology {
    /// What every node's kernel sends with, TTL and IPv6 hop limit alike: `ttl:` as written,
    /// else 255 when some path is longer than the kernel's default (64) allows, else nil (the
    /// kernel's default, untouched). `longestPath` is that path's length when it was the reason.
    public func nodeTTL() -> (ttl: Int?, longestPath: Int?) {
        if let ttl { return (ttl, nil) }
        guard let long = PathLengths(self).pathLonger(than: PacketTTL.kernelDefault) else { return (nil, nil) }
        return (Topology.longPathTTL, long)
    }

    /// What deploy writes into each new namespace: `nodeTTL()` when it is not what a new
    /// namespace has already; nil: nothing to write.
    public func ttlToWrite() -> Int? {
        nodeTTL().ttl.flatMap { $0 == PacketTTL.kernelDefault ? nil : $0 }
    }

    /// The most an IPv4 TTL or IPv6 hop limit can be.
    public static let longPathTTL = 255
}
