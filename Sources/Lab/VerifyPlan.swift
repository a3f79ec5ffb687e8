import NetAddress
import Topology

/// Which destinations each node probes: every address of every other node (all pairs), K
/// seeded random nodes' addresses per node (`--sample`), only from one node (`--from`), only
/// to one (`--to`); and the addresses the expectations name. Pure: built from node names and
/// addresses, so it is tested without a lab.
struct VerifyPlan {
    /// Which pairs: all of them, or a seeded sample of destinations per node, optionally only
    /// from one node or to one node (indexes into `nodes`).
    struct Selection: Sendable {
        var pairs = true
        var sample: DestinationSample?
        var from: Int?
        var to: Int?
        /// The nodes that probe (nil: all); the others are only probed (a spread lab's nodes on
        /// other machines, which their own machine probes from).
        var senders: Range<Int>?
    }

    static let families: [IPAddress.Family] = [.ipv4, .ipv6]

    /// The TTL (hop limit) verify's probes leave with: the most there is, so that a lab's paths
    /// are probed however long (a 100×100 grid's longest is 198 hops; ping's default, 64, is
    /// not enough past about 32×32). Replies leave with the answering kernel's default.
    static let probeTTL = 255

    let nodes: [String]
    /// Every node's addresses, per family in `families` order, then the expectations' extras.
    private(set) var targets: [ProbeTarget] = []
    /// One socket per node and family: node n's IPv4 socket is 2n, its IPv6 socket 2n + 1.
    private(set) var queues: [ProbeQueue] = []
    /// (socket, target) of every expectation probe, and per expectation per address which.
    private(set) var expectationProbes: Set<SocketTarget> = []
    private(set) var expectationTargets: [[SocketTarget?]] = []

    struct SocketTarget: Hashable, Sendable {
        var socket: Int
        var target: Int32
    }

    static func socket(node: Int, family: IPAddress.Family) -> Int { node * families.count + (family == .ipv4 ? 0 : 1) }

    /// `addresses[n]`: node n's addresses; `expectations`: per expectation, the probing node
    /// (nil when it is not a node that can probe) and the addresses to probe.
    init(nodes: [String], addresses: [[IPAddress]], selection: Selection, expectations: [(from: Int?, addresses: [IPAddress])]) {
        self.nodes = nodes
        var ranges: [IPAddress.Family: Range<Int32>] = [:]
        var byNode = [[[Int32]]](repeating: [[], []], count: nodes.count)
        var position: [IPAddress: Int32] = [:]
        for (f, family) in Self.families.enumerated() {
            let start = Int32(targets.count)
            for (node, list) in addresses.enumerated() {
                for address in list where address.family == family {
                    let index = Int32(targets.count)
                    targets.append(ProbeTarget(destination: address, ttl: Self.probeTTL, owner: Int32(node)))
                    byNode[node][f].append(index)
                    if position[address] == nil { position[address] = index }
                }
            }
            ranges[family] = start..<Int32(targets.count)
        }

        for node in nodes.indices {
            for (f, family) in Self.families.enumerated() {
                var queue = ProbeQueue()
                if selection.pairs, selection.from == nil || selection.from == node, selection.senders?.contains(node) ?? true {
                    if let to = selection.to {
                        if to != node { queue.listed = byNode[to][f] }
                    } else if let sample = selection.sample {
                        queue.listed = sample.destinations(from: nodes[node], index: node, among: nodes.count).flatMap { byNode[$0][f] }
                    } else {
                        queue = ProbeQueue(range: ranges[family] ?? 0..<0, skipping: Int32(node))
                    }
                }
                queues.append(queue)
            }
        }

        // Expectation probes: the pair probe when there is one, else an extra of the queue.
        var listedSets: [Int: Set<Int32>] = [:]
        var extraTargets: [ExtraKey: Int32] = [:]
        for expectation in expectations {
            var probes: [SocketTarget?] = []
            for address in expectation.addresses {
                guard let from = expectation.from else { probes.append(nil); continue }
                let socket = Self.socket(node: from, family: address.family)
                var target: Int32?
                if let known = position[address] {
                    let queue = queues[socket]
                    if queue.rangeCovers(known, owner: targets[Int(known)].owner) {
                        target = known
                    } else if !queue.listed.isEmpty {
                        if listedSets[socket] == nil { listedSets[socket] = Set(queue.listed) }
                        if listedSets[socket]?.contains(known) == true { target = known }
                    }
                }
                if target == nil {
                    let extraKey = ExtraKey(socket: socket, address: address)
                    if let known = extraTargets[extraKey] {
                        target = known
                    } else {
                        let index = Int32(targets.count)
                        targets.append(ProbeTarget(destination: address, ttl: Self.probeTTL))
                        queues[socket].extra.append(index)
                        extraTargets[extraKey] = index
                        target = index
                    }
                }
                let probe = SocketTarget(socket: socket, target: target ?? 0)
                expectationProbes.insert(probe)
                probes.append(probe)
            }
            expectationTargets.append(probes)
        }
        probeCount = queues.reduce(0) { $0 + $1.load }
    }

    private struct ExtraKey: Hashable {
        var socket: Int
        var address: IPAddress
    }

    /// The node a socket belongs to.
    static func node(ofSocket socket: Int) -> Int { socket / families.count }

    /// Probes the queues hold, counted once: verify compares it with every finished probe's
    /// count, and summing 2,002 queues two million times was a sixth of a 1,000-leaf star's run.
    private(set) var probeCount = 0
}

/// `--sample K`: K destination nodes per source node, drawn from a seeded generator so that a
/// run can be replayed with `--seed`. Each source's draw depends only on the seed, its name and
/// the number of nodes, so `--from NODE` with the same seed probes what the full run did.
public struct DestinationSample: Codable, Sendable, Equatable {
    public var perNode: Int
    public var seed: UInt64

    public init(perNode: Int, seed: UInt64) { self.perNode = perNode; self.seed = seed }

    /// A seed for a run that was not given one.
    public static func randomSeed() -> UInt64 { UInt64.random(in: 0...UInt64.max) }

    /// The indexes (ascending) of the nodes `source` (at `index` among `count` nodes) probes.
    func destinations(from source: String, index: Int, among count: Int) -> [Int] {
        let others = count - 1
        guard others > 0, perNode > 0 else { return [] }
        // Other nodes numbered 0..<others, skipping the source itself.
        func node(_ other: Int) -> Int { other < index ? other : other + 1 }
        if perNode >= others { return (0..<others).map(node) }
        var generator = SplitMix64(seed: seed ^ fnv1a(source))
        var chosen = Set<Int>()
        if perNode * 2 <= others {
            while chosen.count < perNode { chosen.insert(generator.next(below: others)) }
        } else {
            // Most of them: shuffle the first perNode places (Fisher–Yates), no retries.
            var pool = Array(0..<others)
            for i in 0..<perNode {
                pool.swapAt(i, i + generator.next(below: others - i))
                chosen.insert(pool[i])
            }
        }
        return chosen.sorted().map(node)
    }

    /// FNV-1a of the name's UTF-8: stable across runs and Swift versions (unlike hashValue).
    private func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
