import NetAddress

/// Static routes computed from the topology graph so that every node reaches every subnet of
/// the lab, in both directions, along shortest paths.
///
/// Only routers forward, so paths go through routers only; hosts are where paths start and end.
/// A node whose only neighbour is a router gets a default route per family through it (what a
/// person would write); other nodes get one route per subnet they are not attached to, via the first hop
/// of a shortest path (ties broken by file order, so the same file always yields the same
/// routes). Routes written by hand win: a computed route is dropped when the node already has a
/// route to the same destination.
///
/// Cost: one breadth-first search per node over integer indexes, and one pass over the lab's
/// subnets; a node's routes are merged (`aggregated`) as soon as they are known, so what is
/// kept is what a deploy installs. Each route keeps the facts its reason is worded from, not the
/// words: a 100×100 grid has 19,800 subnets to route for each of 10,000 nodes, and a route with
/// its reason as text per node and subnet took 2.7 GB and 14 minutes to generate.
public enum StaticRouting {
    /// The routes to add to each node (node name → routes), hand-written ones not included.
    /// `aggregated`: a node's routes through one gateway are merged into the fewest prefixes
    /// that cover exactly their subnets (see `aggregate`), as `nslab generate` writes them.
    public static func compute(for topology: Topology, aggregated: Bool = false) -> [String: [Route]] {
        let graph = Graph(topology)
        var search = Search(count: graph.names.count)
        var result: [String: [Route]] = [:]
        for (index, node) in topology.nodes.enumerated() {
            let routes = graph.routes(of: index, node: node, aggregated: aggregated, search: &search)
            if !routes.isEmpty { result[node.name] = routes }
        }
        return result
    }

    /// The topology with the computed routes appended to each node's own.
    public static func apply(to topology: Topology, aggregated: Bool = false, only: (Node) -> Bool = { _ in true }) -> Topology {
        let graph = Graph(topology)
        var search = Search(count: graph.names.count)
        var routed = topology
        for (index, node) in topology.nodes.enumerated() where only(node) {
            routed.nodes[index].routes += graph.routes(of: index, node: node, aggregated: aggregated, search: &search)
        }
        return routed
    }

    /// Routes through the same gateway merged: two halves of a block become the block when both
    /// are routed there, or when one is and the other is one of the node's `own` subnets (its
    /// connected route is more specific and still wins). The merged routes cover exactly the
    /// addresses the separate ones did, apart from the node's own subnets: along a chain of
    /// 1,000 routers, about 20 routes a node instead of 1,000. Routes with a device or a metric
    /// are left as they are (first); of two routes to one destination through one gateway, the
    /// later is kept.
    static func aggregate(_ routes: [Route], own: Set<IPPrefix>) -> [Route] {
        var gateways: [IPAddress] = []
        var byGateway: [IPAddress: [Int]] = [:]
        var unmerged: [Route] = []
        for (index, route) in routes.enumerated() {
            guard let gateway = route.gateway, route.device == nil, route.metric == nil else {
                unmerged.append(route)
                continue
            }
            if byGateway[gateway] == nil { gateways.append(gateway) }
            byGateway[gateway, default: []].append(index)
        }
        let ownBlocks = own.sorted().map { Block(prefix: $0, routed: 0, first: -1) }
        var merged: [Route] = []
        for gateway in gateways {
            var blocks: [Block] = []
            var seen: [IPPrefix: Int] = [:]
            for index in byGateway[gateway] ?? [] {
                let block = Block(prefix: routes[index].destination, routed: 1, first: Int32(index))
                if let at = seen[routes[index].destination] { blocks[at] = block; continue }
                seen[routes[index].destination] = blocks.count
                blocks.append(block)
            }
            blocks += ownBlocks.filter { $0.family == gateway.family && seen[$0.prefix] == nil }
            for block in Block.merge(blocks, family: gateway.family) {
                let first = routes[Int(block.first)]
                merged.append(first.destination.length == block.length
                              ? first
                              : Route(destination: block.prefix, gateway: gateway, location: first.location,
                                      why: .merged(subnets: Int(block.routed))))
            }
        }
        return unmerged + merged
    }

    /// A prefix being merged: how many routed subnets it holds (0: only the node's own, which
    /// may be merged in but never needs a route) and the first of them (an index of the caller's).
    struct Block {
        /// The network, left-aligned in 128 bits whatever the family.
        var bits: UInt128
        var length: Int
        var isV4: Bool
        var routed: Int32
        var first: Int32
        /// Made by merging two halves (below a block already there at this prefix, if any).
        var isMerged = false

        init(bits: UInt128, length: Int, isV4: Bool, routed: Int32, first: Int32, isMerged: Bool = false) {
            self.bits = bits; self.length = length; self.isV4 = isV4
            self.routed = routed; self.first = first; self.isMerged = isMerged
        }

        init(prefix: IPPrefix, routed: Int32, first: Int32) {
            switch prefix.network.address {
            case .v4(let value): self.init(bits: UInt128(value) << 96, length: prefix.length, isV4: true, routed: routed, first: first)
            case .v6(let hi, let lo): self.init(bits: UInt128(hi) << 64 | UInt128(lo), length: prefix.length, isV4: false,
                                                routed: routed, first: first)
            }
        }

        var family: IPAddress.Family { isV4 ? .ipv4 : .ipv6 }

        var prefix: IPPrefix {
            let address: IPAddress = isV4 ? .v4(UInt32(truncatingIfNeeded: bits >> 96))
                                           : .v6(UInt64(truncatingIfNeeded: bits >> 64), UInt64(truncatingIfNeeded: bits))
            return IPPrefix(address: address, length: length)!
        }

        /// Longest first, one length at a time: two halves of a block, both present and at least
        /// one routed, become the block (added to one already there); a merged block meets its
        /// own sibling one level up. What is left with something routed, in address order.
        static func merge(_ blocks: [Block], family: IPAddress.Family) -> [Block] {
            let bitCount = family.bitCount
            var levels = [[Block]](repeating: [], count: bitCount + 1)
            for block in blocks { levels[block.length].append(block) }
            var left: [Block] = []
            for length in stride(from: bitCount, through: 0, by: -1) where !levels[length].isEmpty {
                var level = levels[length]
                levels[length] = []
                // Blocks given come before merged ones at the same prefix, and absorb them.
                level.sort { ($0.bits, $0.isMerged ? 1 : 0) < ($1.bits, $1.isMerged ? 1 : 0) }
                var unique: [Block] = []
                unique.reserveCapacity(level.count)
                for block in level {
                    if let last = unique.last, last.bits == block.bits {
                        unique[unique.count - 1].routed += block.routed
                        if last.first < 0 { unique[unique.count - 1].first = block.first }
                    } else {
                        unique.append(block)
                    }
                }
                guard length > 0 else { left += unique; break }
                let bit = UInt128(1) << (128 - length)
                var i = 0
                while i < unique.count {
                    let block = unique[i]
                    if i + 1 < unique.count, unique[i + 1].bits == block.bits ^ bit, block.routed + unique[i + 1].routed > 0 {
                        let other = unique[i + 1]
                        levels[length - 1].append(Block(bits: block.bits & ~bit, length: length - 1, isV4: block.isV4,
                                                        routed: block.routed + other.routed,
                                                        first: block.first >= 0 ? block.first : other.first, isMerged: true))
                        i += 2
                    } else {
                        left.append(block)
                        i += 1
                    }
                }
            }
            return left.filter { $0.routed > 0 }.sorted { ($0.bits, $0.length) < ($1.bits, $1.length) }
        }
    }
}

/// Why `routing: static` chose a route: the facts, worded only when asked for (explain).
enum RouteReason: Sendable {
    /// Given as text (a route built by hand with a reason).
    case text(String)
    /// A default route through the node's only neighbour, a router.
    case onlyNeighbour(String)
    /// `target`, on the subnet, is `distance` hops away, first through `via`.
    case nearest(target: String, distance: Int32, via: String)
    /// Several routes (and maybe the node's own subnets) merged into one block.
    case merged(subnets: Int)

    var text: String {
        switch self {
        case .text(let text):
            return text
        case .onlyNeighbour(let node):
            return "routing: static: \(node), the only neighbour, forwards"
        case .nearest(let target, let distance, let via):
            let hops = distance == 1 ? "1 hop" : "\(distance) hops"
            return "routing: static: \(target), on that subnet, is \(hops) away, first through "
                + "\(via); of equal paths, the first in file order"
        case .merged(let subnets):
            let what = subnets == 1
                ? "a subnet whose nearest node is reached first through this gateway, and the node's own subnets,"
                : "\(subnets) subnets whose nearest nodes are all reached first through this gateway"
            return "routing: static: \(what) merged into one block"
        }
    }
}

/// Nodes (by index: the topology's nodes in file order, then any other name a segment holds),
/// who is linked to whom, and the subnets on the links.
private struct Graph {
    struct Neighbour {
        var node: Int32
        /// The neighbour's addresses on the link we share: the gateways through it.
        var remoteAddresses: [IPAddress]
    }

    var names: [String] = []
    var adjacency: [[Neighbour]] = []
    var forwards: [Bool] = []
    /// Per subnet: its prefix and the nodes attached to it (each once, in order of discovery).
    var prefixes: [IPPrefix] = []
    var attached: [[Int32]] = []

    init(_ topology: Topology) {
        var index: [String: Int32] = [:]
        for node in topology.nodes where index[node.name] == nil {
            index[node.name] = Int32(names.count)
            names.append(node.name)
            forwards.append(node.kind.forwards)
        }
        func number(_ name: String) -> Int32 {
            if let known = index[name] { return known }
            index[name] = Int32(names.count)
            names.append(name)
            forwards.append(false)
            return index[name]!
        }
        // Neighbours are the nodes on a segment: the other end of a point-to-point link, or
        // everything one bridge joins in one VLAN (the bridge itself is no hop).
        var subnetIndex: [IPPrefix: Int] = [:]
        var segmentAdjacency: [(near: Int32, neighbour: Neighbour)] = []
        for segment in Layer2.segments(of: topology) {
            let members = segment.map { (number($0.interface.node), Self.addresses(of: $0, in: topology)) }
            for (near, addresses) in members {
                for (far, remote) in members where far != near {
                    segmentAdjacency.append((near, Neighbour(node: far, remoteAddresses: remote.map(\.address))))
                }
                for address in addresses {
                    let prefix = address.network
                    if let existing = subnetIndex[prefix] {
                        if !attached[existing].contains(near) { attached[existing].append(near) }
                    } else {
                        subnetIndex[prefix] = prefixes.count
                        prefixes.append(prefix)
                        attached.append([near])
                    }
                }
            }
        }
        adjacency = [[Neighbour]](repeating: [], count: names.count)
        for (near, neighbour) in segmentAdjacency { adjacency[Int(near)].append(neighbour) }
    }

    static func addresses(of attachment: Attachment, in topology: Topology) -> [IPPrefix] {
        let end = topology.links[attachment.link].endpoints[attachment.end]
        return attachment.subinterface.map { end.subinterfaces[$0].addresses } ?? end.addresses
    }

    /// The routes `node` (at `source`) gets: see StaticRouting.
    func routes(of source: Int, node: Node, aggregated: Bool, search: inout Search) -> [Route] {
        let handWritten = Set(node.routes.map(\.destination.network))
        let neighbours = adjacency[source]
        if neighbours.count == 1, let only = neighbours.first, forwards[Int(only.node)] {
            var routes: [Route] = []
            for family in [IPAddress.Family.ipv4, .ipv6] {
                guard let gateway = only.remoteAddresses.first(where: { $0.family == family }),
                      let any = IPPrefix(family == .ipv4 ? "0.0.0.0/0" : "::/0"),
                      !handWritten.contains(any) else { continue }
                routes.append(Route(destination: any, gateway: gateway, location: node.location,
                                    why: .onlyNeighbour(names[Int(only.node)])))
            }
            return routes
        }
        search.run(from: Int32(source), in: self)
        let me = Int32(source)
        // Per routed subnet: the gateway (an index into `gateways`) and why.
        var gateways: [IPAddress] = []
        var chosen: [(subnet: Int32, gateway: Int32, target: Int32)] = []
        var own: [Int32] = []
        subnets: for subnet in prefixes.indices {
            // The attached node nearest to us (ties: file order); its first hop carries the route.
            var best: Int32 = -1
            var bestDistance = Int32.max
            for candidate in attached[subnet] {
                if candidate == me {
                    own.append(Int32(subnet))
                    continue subnets
                }
                let distance = search.distance(to: candidate)
                if best < 0 || distance < bestDistance || (distance == bestDistance && candidate < best) {
                    best = candidate
                    bestDistance = distance
                }
            }
            guard best >= 0, bestDistance != .max, handWritten.isEmpty || !handWritten.contains(prefixes[subnet]),
                  let gateway = neighbours[Int(search.via[Int(best)])].remoteAddresses
                      .first(where: { $0.family == prefixes[subnet].family })
            else { continue }
            let slot: Int32
            if let known = gateways.firstIndex(of: gateway) {
                slot = Int32(known)
            } else {
                slot = Int32(gateways.count)
                gateways.append(gateway)
            }
            chosen.append((Int32(subnet), slot, best))
        }
        func route(_ choice: (subnet: Int32, gateway: Int32, target: Int32)) -> Route {
            Route(destination: prefixes[Int(choice.subnet)], gateway: gateways[Int(choice.gateway)], location: node.location,
                  why: .nearest(target: names[Int(choice.target)], distance: search.distance(to: choice.target),
                                via: names[Int(neighbours[Int(search.via[Int(choice.target)])].node)]))
        }
        guard aggregated else { return chosen.map(route) }

        // Merged per gateway, gateways in the order they first carry a subnet.
        var routes: [Route] = []
        var members = [[Int32]](repeating: [], count: gateways.count)
        for (position, choice) in chosen.enumerated() { members[Int(choice.gateway)].append(Int32(position)) }
        for (slot, gateway) in gateways.enumerated() {
            var blocks = members[slot].map {
                StaticRouting.Block(prefix: prefixes[Int(chosen[Int($0)].subnet)], routed: 1, first: $0)
            }
            for subnet in own where prefixes[Int(subnet)].family == gateway.family {
                blocks.append(StaticRouting.Block(prefix: prefixes[Int(subnet)], routed: 0, first: -1))
            }
            for block in StaticRouting.Block.merge(blocks, family: gateway.family) {
                let first = chosen[Int(block.first)]
                routes.append(prefixes[Int(first.subnet)].length == block.length
                              ? route(first)
                              : Route(destination: block.prefix, gateway: gateway, location: node.location,
                                      why: .merged(subnets: Int(block.routed))))
            }
        }
        return routes
    }
}

/// Breadth-first search from one node at a time, its arrays reused for the next: for every
/// node reached, how far it is and which of the source's neighbours (a position in its
/// adjacency) starts a shortest path to it. Paths continue only through forwarding nodes.
private struct Search {
    var distances: [Int32]
    var via: [Int32]
    /// The search that reached each node last: a node not reached by this one is unreached.
    var reachedBy: [Int32]
    var current: Int32 = 0
    var queue: [Int32] = []

    init(count: Int) {
        distances = [Int32](repeating: 0, count: count)
        via = [Int32](repeating: 0, count: count)
        reachedBy = [Int32](repeating: 0, count: count)
    }

    /// Hops to `node` from the last search's source; Int32.max when unreached.
    func distance(to node: Int32) -> Int32 {
        reachedBy[Int(node)] == current ? distances[Int(node)] : .max
    }

    mutating func run(from source: Int32, in graph: Graph) {
        current += 1
        queue.removeAll(keepingCapacity: true)
        func reach(_ node: Int32, distance: Int32, via slot: Int32) {
            reachedBy[Int(node)] = current
            distances[Int(node)] = distance
            via[Int(node)] = slot
            queue.append(node)
        }
        for (slot, neighbour) in graph.adjacency[Int(source)].enumerated()
        where reachedBy[Int(neighbour.node)] != current && neighbour.node != source {
            reach(neighbour.node, distance: 1, via: Int32(slot))
        }
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            guard graph.forwards[Int(node)] else { continue }
            let distance = distances[Int(node)] + 1, slot = via[Int(node)]
            for next in graph.adjacency[Int(node)] where reachedBy[Int(next.node)] != current && next.node != source {
                reach(next.node, distance: distance, via: slot)
            }
        }
    }
}
