import Foundation
import NetAddress
import Namespaces
import Netlink
import Routing
import Topology

/// How a wait for a lab's routing ended.
public struct RoutingWaitResult: Sendable {
    public var seconds: Double
    public var converged: Bool
    /// Routers that run a protocol.
    public var routers: Int
    /// Why it has not converged (at a timeout): "r1 has no route to 10.0.0.4/31", "r2: ospf
    /// neighbour on eth1 not Full".
    public var pending: [String]
}

/// `nslab wait`, and deploy before it returns: a lab's routing has converged when every router
/// running a protocol has a route to every subnet its part of the lab has (the routers it
/// reaches over links that are up), every adjacency or session on such a link is up in FRR,
/// and no router's table has changed for `quiet` seconds.
public enum RoutingWait {
    public static let pollInterval = 0.1
    /// A BGP session counts once it has been up this long (ms): its updates follow the
    /// establishment, an IPv6 session's only once the link-local address has passed duplicate
    /// address detection (seen here: a session up for 1 s with no prefix received yet, its
    /// better path arriving seconds later), and a session that survived a short link failure
    /// dies at its hold time, 3 s.
    static let bgpSettle = 3000
    static let ospf6Quiet = 5.5

    /// nil when the lab runs no routing protocol.
    public static func wait(lab: String, timeout: Double = 60, quiet: Double = 1.0,
                            progress: (ProgressStep) -> Void = { _ in }) throws -> RoutingWaitResult? {
        let start = Date()
        let record = try LabRecord.read(lab: lab)
        guard let text = record.topology, let topology = try? Topology.parse(yaml: text, file: record.summary.file ?? lab) else {
            throw LabError.record(lab: lab, problem: "its topology copy is missing or unreadable; deploy the lab's file again")
        }
        let routed = RoutedLab(topology).nodes.filter { !$0.protocols.isEmpty }
        guard !routed.isEmpty else { return nil }
        let stopped = record.summary.stoppedNodes
        let speakers = routed.filter { !stopped.contains($0.name) }
        // FRR 8.4's ospf6d originates a changed router LSA at most every 5 s (MinLSInterval,
        // not configurable there, unlike ospfd's `timers throttle lsa`): after a link fails
        // soon after the last change, the tables can stand still for seconds with a stale
        // route before the news arrives (seen here: IPv6 looping between two routers for ~4 s
        // after a wait of 1 s returned). With OSPFv3 the tables must be still for longer.
        let quiet = speakers.contains { $0.protocols.contains(.ospf6) } ? max(quiet, Self.ospf6Quiet) : quiet
        var lastDigest: [String: Int] = [:]
        var stillSince = Date()
        var pending: [String] = []
        var lastReport = Date.distantPast
        while true {
            try Interruption.check()
            let tables = try readTables(speakers, topology: topology)
            let digest = tables.mapValues { (table: Table) in table.digest }
            if digest != lastDigest { lastDigest = digest; stillSince = Date() }
            pending = missingRoutes(speakers, tables: tables)
            if pending.isEmpty {
                pending = adjacenciesDown(speakers, tables: tables, topology: topology)
            }
            let elapsed = Date().timeIntervalSince(start)
            if pending.isEmpty && Date().timeIntervalSince(stillSince) >= quiet {
                return RoutingWaitResult(seconds: elapsed - quiet, converged: true, routers: speakers.count, pending: [])
            }
            if elapsed > timeout {
                return RoutingWaitResult(seconds: elapsed, converged: false, routers: speakers.count, pending: pending)
            }
            if Date().timeIntervalSince(lastReport) >= 1 {
                lastReport = Date()
                progress(.stage(pending.isEmpty ? String(format: "routing: %.0f s, tables settling", elapsed)
                                         : "routing: \(String(format: "%.0f", elapsed)) s, \(pending.count) pending (\(pending[0]))"))
            }
            Thread.sleep(forTimeInterval: pollInterval)
        }
    }

    /// One router's kernel state as the wait needs it.
    struct Table {
        /// Interfaces that are up with carrier, by name.
        var upInterfaces: Set<String>
        /// Subnets of the global addresses on those interfaces.
        var connected: Set<IPPrefix>
        /// Every destination in the main table.
        var destinations: Set<IPPrefix>
        var digest: Int
    }

    private static func readTables(_ routers: [RoutedNode], topology: Topology) throws -> [String: Table] {
        let results: [(String, Table)?] = try NamespaceThread.forEach(routers, threads: 2) { router -> (String, Table)? in
            guard let namespace = try? NetworkNamespace.open(topology.namespaceName(of: router.name)) else { return nil }
            return try namespace.run {
                let socket = try NetlinkSocket()
                let links = try socket.links()
                let up: [LinkInfo] = links.filter { $0.isUp && $0.hasCarrier }
                let upIndexes = Set(up.map(\.index))
                let connected = try socket.addresses().filter { upIndexes.contains(Int32(bitPattern: $0.index)) && !$0.prefix.address.isLinkLocalV6
                    && !$0.prefix.address.isLoopback }.map(\.prefix.network)
                let routes = try socket.routes()  // the main table
                var hasher = Hasher()
                for route in routes.sorted(by: { $0.destination.description < $1.destination.description }) {
                    hasher.combine(route.destination.description)
                    hasher.combine(route.gateway?.description)
                    hasher.combine(route.outputIndex)
                    hasher.combine(route.protocolID)
                }
                return (router.name, Table(upInterfaces: Set(up.map(\.name)), connected: Set(connected),
                                           destinations: Set(routes.map(\.destination)), digest: hasher.finalize()))
            }
        }
        return Dictionary(results.compactMap { $0 }, uniquingKeysWith: { first, _ in first })
    }

    /// The routers each router reaches over links up at both ends, and the subnets they have.
    static func missingRoutes(_ routers: [RoutedNode], tables: [String: Table]) -> [String] {
        var neighbours: [String: [String]] = [:]
        for router in routers {
            guard let own = tables[router.name] else { continue }
            for interface in router.interfaces where own.upInterfaces.contains(interface.name) {
                for peer in interface.peers where tables[peer.node]?.upInterfaces.contains(peer.interface) == true {
                    neighbours[router.name, default: []].append(peer.node)
                }
            }
        }
        var pending: [String] = []
        for router in routers {
            guard let own = tables[router.name] else { continue }
            var reached: Set<String> = [router.name]
            var queue = [router.name]
            while let next = queue.popLast() {
                for peer in neighbours[next] ?? [] where reached.insert(peer).inserted { queue.append(peer) }
            }
            let families = Set(router.protocols.map { $0 == .ospf6 ? IPAddress.Family.ipv6 : .ipv4 }
                               + (router.protocols.contains(.bgp) ? [.ipv6] : []))
            for other in reached.sorted() where other != router.name {
                for subnet in tables[other]?.connected.sorted(by: { $0.description < $1.description }) ?? []
                where families.contains(subnet.family) && !own.destinations.contains(subnet) && !own.connected.contains(subnet) {
                    pending.append("\(router.name) has no route to \(subnet)")
                }
            }
        }
        return pending
    }

    /// Adjacencies and sessions FRR does not have up on links that are up: asked of each
    /// router's daemons once its routes are complete.
    static func adjacenciesDown(_ routers: [RoutedNode], tables: [String: Table], topology: Topology) -> [String] {
        let states = RoutingState.read(routers, topology: topology)
        // A router on another machine (a spread lab's part) is not read from here: its link's
        // end here being up is all this machine can know of it.
        let elsewhere = Set(topology.remoteNodes.map(\.name))
        var pending: [String] = []
        for router in routers {
            guard let own = tables[router.name], let state = states[router.name] else { continue }
            let counts = state.adjacencies(of: router, peers: { interface in
                guard own.upInterfaces.contains(interface.name) else { return [] }
                return interface.peers.filter { peer in
                    tables[peer.node].map { $0.upInterfaces.contains(peer.interface) } ?? elsewhere.contains(peer.node)
                }
            }, settledAfter: Self.bgpSettle)
            for count in counts where count.up < count.expected {
                pending.append("\(router.name): \(count.protocolName.rawValue) on \(count.interface) has \(count.up) of \(counted(count.expected, "neighbour")) up")
            }
        }
        return pending
    }
}
