// The routes of `routing: static` as StaticRouting computed them before it worked per node on
// integer indexes (a 100×100 grid took 2.7 GB and 14 minutes): kept unchanged as the reference the
// new implementation must equal (StaticRoutingTests).
import NetAddress
@testable import Topology

/// Static routes computed from the topology graph so that every node reaches every subnet of
/// the lab, in both directions, along shortest paths.
///
/// Only routers forward, so paths go through routers only; hosts are where paths start and end.
/// A node whose only neighbour is a router gets a default route per family through it (what a
/// person would write); other nodes get one route per subnet they are not attached to, via the first hop
/// of a shortest path (ties broken by file order, so the same file always yields the same
/// routes). Routes written by hand win: a computed route is dropped when the node already has a
/// route to the same destination.
enum ReferenceStaticRouting {
    /// The routes to add to each node (node name → routes), hand-written ones not included.
    /// `aggregated`: a node's routes through one gateway are merged into the fewest prefixes
    /// that cover exactly their subnets (see `aggregate`), as `nslab generate` writes them.
    static func compute(for topology: Topology, aggregated: Bool = false) -> [String: [Route]] {
        let graph = ReferenceGraph(topology)
        var result: [String: [Route]] = [:]
        for node in topology.nodes {
            let handWritten = Set(node.routes.map(\.destination.network))
            var routes: [Route] = []
            let neighbours = graph.adjacency[node.name] ?? []
            if neighbours.count == 1, let only = neighbours.first, graph.forwards[only.node] == true {
                for family in [IPAddress.Family.ipv4, .ipv6] {
                    guard let gateway = only.remoteAddresses.first(where: { $0.family == family }),
                          let any = IPPrefix(family == .ipv4 ? "0.0.0.0/0" : "::/0"),
                          !handWritten.contains(any) else { continue }
                    routes.append(Route(destination: any, gateway: gateway, location: node.location,
                                        reason: "routing: static: \(only.node), the only neighbour, forwards"))
                }
            } else {
                let firstHops = graph.firstHops(from: node.name)
                var own: Set<IPPrefix> = []
                for subnet in graph.subnets {
                    if subnet.attached.contains(node.name) {
                        own.insert(subnet.prefix)
                        continue
                    }
                    // The attached node nearest to us; its first hop carries the route.
                    guard !handWritten.contains(subnet.prefix),
                          let target = subnet.attached.min(by: { (firstHops[$0]?.distance ?? .max, graph.order[$0] ?? 0)
                                                                     < (firstHops[$1]?.distance ?? .max, graph.order[$1] ?? 0) }),
                          let hop = firstHops[target],
                          let gateway = hop.via.remoteAddresses.first(where: { $0.family == subnet.prefix.family })
                    else { continue }
                    let hops = hop.distance == 1 ? "1 hop" : "\(hop.distance) hops"
                    routes.append(Route(destination: subnet.prefix, gateway: gateway, location: node.location,
                                        reason: "routing: static: \(target), on that subnet, is \(hops) away, first through "
                                            + "\(hop.via.node); of equal paths, the first in file order"))
                }
                if aggregated { routes = aggregate(routes, own: own) }
            }
            if !routes.isEmpty { result[node.name] = routes }
        }
        return result
    }

    /// Routes through the same gateway merged: two halves of a block become the block when both
    /// are routed there, or when one is and the other is one of the node's `own` subnets (its
    /// connected route is more specific and still wins). The merged routes cover exactly the
    /// addresses the separate ones did, apart from the node's own subnets: along a chain of
    /// 1,000 routers, about 20 routes a node instead of 1,000.
    static func aggregate(_ routes: [Route], own: Set<IPPrefix>) -> [Route] {
        var gateways: [IPAddress] = []
        var byGateway: [IPAddress: [Route]] = [:]
        var unmerged: [Route] = []
        for route in routes {
            guard let gateway = route.gateway, route.device == nil, route.metric == nil else {
                unmerged.append(route)
                continue
            }
            if byGateway[gateway] == nil { gateways.append(gateway) }
            byGateway[gateway, default: []].append(route)
        }
        var merged: [Route] = []
        for gateway in gateways {
            // Prefix → the routed subnets it holds (none: only the node's own, which may be
            // merged in but never needs a route) and the first of them.
            var blocks: [IPPrefix: Block] = [:]
            for route in byGateway[gateway] ?? [] { blocks[route.destination] = Block(routed: 1, first: route) }
            for prefix in own where prefix.family == gateway.family && blocks[prefix] == nil { blocks[prefix] = Block() }
            // Longest first, one length at a time: a merged block meets its own sibling one level up.
            var levels = [[IPPrefix]](repeating: [], count: gateway.family.bitCount + 1)
            for prefix in blocks.keys { levels[prefix.length].append(prefix) }
            for length in stride(from: gateway.family.bitCount, to: 0, by: -1) {
                for prefix in levels[length] {
                    guard let block = blocks[prefix], let sibling = prefix.sibling, let parent = prefix.parent,
                          let other = blocks[sibling], block.routed + other.routed > 0 else { continue }
                    blocks[prefix] = nil
                    blocks[sibling] = nil
                    if blocks[parent] == nil { levels[length - 1].append(parent) }
                    blocks[parent] = (blocks[parent] ?? Block()).adding(block).adding(other)
                }
            }
            for (prefix, block) in blocks.sorted(by: { $0.key < $1.key }) {
                guard let first = block.first else { continue }
                if first.destination == prefix {
                    merged.append(first)
                    continue
                }
                let what = block.routed == 1
                    ? "a subnet whose nearest node is reached first through this gateway, and the node's own subnets,"
                    : "\(block.routed) subnets whose nearest nodes are all reached first through this gateway"
                merged.append(Route(destination: prefix, gateway: gateway, location: first.location,
                                    reason: "routing: static: \(what) merged into one block"))
            }
        }
        return unmerged + merged
    }

    private struct Block {
        var routed = 0
        /// The first route merged into it (the one kept when nothing else was).
        var first: Route?

        func adding(_ other: Block) -> Block {
            Block(routed: routed + other.routed, first: first ?? other.first)
        }
    }

    /// The topology with the computed routes appended to each node's own.
    static func apply(to topology: Topology, aggregated: Bool = false, only: (Node) -> Bool = { _ in true }) -> Topology {
        var routed = topology
        let computed = compute(for: topology, aggregated: aggregated)
        for index in routed.nodes.indices where only(routed.nodes[index]) {
            routed.nodes[index].routes += computed[routed.nodes[index].name] ?? []
        }
        return routed
    }
}

/// Nodes, who is linked to whom, and the subnets on the links.
private struct ReferenceGraph {
    struct Neighbour {
        var node: String
        /// The neighbour's addresses on the link we share: the gateways through it.
        var remoteAddresses: [IPAddress]
    }

    struct Subnet {
        var prefix: IPPrefix
        var attached: Set<String>
    }

    struct FirstHop {
        var via: Neighbour
        var distance: Int
    }

    var adjacency: [String: [Neighbour]] = [:]
    var subnets: [Subnet] = []
    var forwards: [String: Bool] = [:]
    /// File order of each node, for deterministic tie-breaks.
    var order: [String: Int] = [:]

    init(_ topology: Topology) {
        for (index, node) in topology.nodes.enumerated() {
            order[node.name] = index
            forwards[node.name] = node.kind.forwards
        }
        // Neighbours are the nodes on a segment: the other end of a point-to-point link, or
        // everything one bridge joins in one VLAN (the bridge itself is no hop).
        var subnetIndex: [IPPrefix: Int] = [:]
        for segment in Layer2.segments(of: topology) {
            let members = segment.map { ($0.interface.node, Self.addresses(of: $0, in: topology)) }
            for (near, addresses) in members {
                for (far, remote) in members where far != near {
                    adjacency[near, default: []].append(Neighbour(node: far, remoteAddresses: remote.map(\.address)))
                }
                for address in addresses {
                    let prefix = address.network
                    if let existing = subnetIndex[prefix] {
                        subnets[existing].attached.insert(near)
                    } else {
                        subnetIndex[prefix] = subnets.count
                        subnets.append(Subnet(prefix: prefix, attached: [near]))
                    }
                }
            }
        }
    }

    static func addresses(of attachment: Attachment, in topology: Topology) -> [IPPrefix] {
        let end = topology.links[attachment.link].endpoints[attachment.end]
        return attachment.subinterface.map { end.subinterfaces[$0].addresses } ?? end.addresses
    }

    /// Breadth-first from `source`: for every reachable node, the neighbour of `source` that
    /// starts a shortest path to it. Paths continue only through forwarding nodes.
    func firstHops(from source: String) -> [String: FirstHop] {
        var result: [String: FirstHop] = [:]
        var queue: [(node: String, hop: Neighbour, distance: Int)] = []
        for neighbour in adjacency[source] ?? [] where result[neighbour.node] == nil && neighbour.node != source {
            result[neighbour.node] = FirstHop(via: neighbour, distance: 1)
            queue.append((neighbour.node, neighbour, 1))
        }
        var head = 0
        while head < queue.count {
            let (node, hop, distance) = queue[head]
            head += 1
            guard forwards[node] == true else { continue }
            for next in adjacency[node] ?? [] where result[next.node] == nil && next.node != source {
                result[next.node] = FirstHop(via: hop, distance: distance + 1)
                queue.append((next.node, hop, distance + 1))
            }
        }
        return result
    }
}
