import Foundation
import NetAddress
import Namespaces
import Netlink
import Routing
import Topology

/// `nslab explain`: the path model of the live state, and a real echo to check it against.
public struct ExplainReport: Encodable, Sendable {
    public var lab: String
    public var from: String
    public var target: String
    public var explanation: PathExplanation
    /// What a real echo request from the source node got: "reply from 10.0.0.1", "no reply", …
    public var observed: String
    public var observedReply: Bool
    /// The model and the real echo say the same.
    public var agrees: Bool
    /// Node → route destination ("default", "10.0.0.0/24") → why `routing: static` chose it,
    /// for the routes the walks above take.
    public var routeReasons: [String: [String: String]] = [:]
    /// When the path breaks for want of a route at a router running a routing protocol: its
    /// adjacencies and sessions that are down, as its FRR says ("ospf on r1:eth0: no neighbour
    /// up (r2)").
    public var routingDown: [String] = []
    /// A spread lab: the host of each node of the walks on another machine.
    public var hosts: [String: String] = [:]
    /// A spread lab: hosts whose part could not be read (the walk stops at the links to them).
    public var unreadHosts: [String] = []
}

extension PathExplanation {
    /// The walk left this machine by a link to another host of a spread lab.
    var leavesThisHost: Bool { problem?.cause == .otherHost }
}

public enum Explainer {
    /// A spread lab's paths are walked across every host's part from the machine that deployed
    /// it, whichever host `source` is on; elsewhere, through this machine's part alone. `ttl`:
    /// the echo request's, in the model and on the real probe (the reply leaves with the
    /// answering kernel's default).
    public static func explain(lab: String?, from source: String, to target: String, sourceAddress: String? = nil,
                               family: IPAddress.Family? = nil, ttl: Int = PacketTTL.kernelDefault) throws -> ExplainReport {
        let remoteSource = SpreadLab.remoteNode(source, lab: lab)
        let labName = try remoteSource?.lab ?? LabNetwork.locate(node: source, lab: lab)
        let network = try LabNetwork.read(lab: labName)
        if remoteSource == nil { _ = try network.node(source) }
        let spread = SpreadLab.isSpread(lab: labName) ? try SpreadLab.model(lab: labName, local: network) : nil
        let resolved = try network.resolve(target)
        guard let destination = resolved.addresses.first(where: { family == nil || $0.family == family }) else {
            throw ProbeError.unknownTarget(target, lab: network.lab, hint: "it has no \(family?.description ?? "") address")
        }
        var chosen: IPAddress?
        if let sourceAddress {
            guard let address = IPAddress(sourceAddress) else {
                throw ProbeError.unknownTarget(sourceAddress, lab: network.lab, hint: "-I takes an address")
            }
            chosen = address
        }
        let explanation = (spread?.model ?? network.model()).explain(from: source, to: destination, sourceAddress: chosen, ttl: ttl)
        // The real thing, from a socket inside the source node bound like the model's source, or
        // from ping on the source's host.
        let observed: (text: String, reply: Bool)
        if let remoteSource {
            observed = SpreadLab.echo(from: source, on: remoteSource.host, lab: labName, to: destination, sourceAddress: chosen, ttl: ttl)
        } else {
            var reply = ProbeReply.timeout
            do {
                let sockets = try ICMPSocket.open(in: try network.namespace(of: source), families: [destination.family], source: chosen)
                reply = ProbeEngine.run(sockets: sockets, probes: [Probe(socket: 0, destination: destination, ttl: ttl)], timeout: 0.5,
                                        retries: 2)[0]
            } catch let error as SystemCallError {
                reply = .notSent(errno: error.code)
            }
            observed = (describe(reply, network: network), reply.isEcho)
        }
        // Only the routes the walks take: a lab's every route (two million in a 32x32 grid) would
        // be built into the report, and into --json, for the handful a path uses.
        var reasons: [String: [String: String]] = [:]
        for hop in explanation.forward.hops + (explanation.reply?.hops ?? []) {
            guard let used = hop.route.map(Self.destinationWord),
                  let route = (spread?.topology ?? network.topology)?.node(named: hop.node)?.routes.first(where: {
                      ($0.isDefault ? "default" : $0.destination.network.description) == used
                  }), let reason = route.reason else { continue }
            reasons[hop.node, default: [:]][used] = reason
        }
        var report = ExplainReport(lab: network.lab, from: source, target: target, explanation: explanation,
                                   observed: observed.text, observedReply: observed.reply,
                                   agrees: observed.reply == explanation.reaches || explanation.leavesThisHost, routeReasons: reasons,
                                   hosts: spread?.hosts ?? [:], unreadHosts: spread?.unread ?? [])
        // FRR is asked on this machine only: a router elsewhere says nothing here.
        if let problem = explanation.problem, problem.cause == .noRoute, let topology = network.topology,
           report.hosts[problem.node] == nil {
            report.routingDown = routingDown(at: problem.node, topology: topology)
        }
        return report
    }

    /// The adjacencies and sessions of `node`'s protocols with no neighbour up, on interfaces
    /// that have routers to speak to.
    static func routingDown(at node: String, topology: Topology) -> [String] {
        guard let router = RoutedLab(topology).node(node), !router.protocols.isEmpty else { return [] }
        let state = RoutingState.read(router, namespace: topology.namespaceName(of: node))
        var down: [String] = []
        for count in state.adjacencies(of: router, peers: \.peers) where count.expected > 0 && count.up == 0 {
            down.append("\(count.protocolName.rawValue) on \(node):\(count.interface): no neighbour up (\(count.peers.joined(separator: ", ")))")
        }
        return down
    }

    static func describe(_ reply: ProbeReply, network: LabNetwork) -> String {
        func name(_ address: IPAddress) -> String {
            network.owner(of: address).map { "\(address) (\($0))" } ?? address.description
        }
        switch reply {
        case .echo(let from, _, let seconds): return "reply from \(name(from)) in \(Pinger.formatMilliseconds(seconds * 1000)) ms"
        case .timeExceeded(let from, _): return "time exceeded from \(name(from))"
        case .unreachable(let from, let code, _): return "destination unreachable (code \(code)) from \(name(from))"
        case .notSent(let error) where error == EINVAL || error == ENOBUFS:
            // What ip_finish_output2 and ip6_finish_output2 return when they cannot make a neighbour entry.
            return "not sent: \(String(cString: strerror(error))): no neighbour entry for the next hop could be made, most "
                + "likely because the host's neighbour table, which all namespaces share, is full "
                + "(net.ipv4.neigh.default.gc_thresh3, net.ipv6.neigh.default.gc_thresh3): `neighbours: static` in the topology avoids it"
        case .notSent(let error): return "not sent: \(String(cString: strerror(error)))"
        case .timeout: return "no reply"
        }
    }

    /// A route's destination as its text begins: "default" or "10.0.0.0/24".
    static func destinationWord(_ route: String) -> String { String(route.prefix { $0 != " " }) }

    public static func render(_ report: ExplainReport) -> String {
        let explanation = report.explanation
        let forward = explanation.forward
        var lines = ["explain \(report.from) → \(report.target) (\(forward.destination)) in lab \(report.lab)"
                     + (forward.source.map { ", from \($0)" } ?? "")]
        func section(_ title: String, _ walk: PathWalk) {
            lines.append("\(title) (\(walk.source.map(\.description) ?? "?") → \(walk.destination)):")
            func name(_ node: String) -> String { report.hosts[node].map { "\(node) on \($0)" } ?? node }
            let width = walk.hops.map { name($0.node).count }.max() ?? 0
            for (index, hop) in walk.hops.enumerated() {
                var words: [String] = []
                if let incoming = hop.inInterface { words.append("in \(incoming)") }
                let isLast = index == walk.hops.count - 1
                if isLast, let arrived = walk.deliveredTo {
                    words.append("✓ delivered: \(walk.destination) is on \(arrived)")
                } else {
                    if let out = hop.outInterface { words.append("out \(out)") }
                    if let route = hop.route {
                        words.append("route \(route)")
                        if let reason = report.routeReasons[hop.node]?[destinationWord(route)] { words.append("(\(reason))") }
                    }
                    if isLast, let problem = walk.problem { words.append("✗ \(problem.cause.rawValue): \(problem.detail)") }
                }
                lines.append("  " + name(hop.node).padding(toLength: width + 2, withPad: " ", startingAt: 0) + words.joined(separator: "  "))
            }
            if walk.hops.isEmpty, let problem = walk.problem { lines.append("  ✗ \(problem.cause.rawValue): \(problem.detail)") }
        }
        section("request", forward)
        if let reply = explanation.reply { section("reply", reply) }
        if explanation.leavesThisHost, let problem = explanation.problem {
            lines.append("verdict: ? \(problem.detail); " + (report.unreadHosts.isEmpty
                ? "this machine reads its own part of the lab only: `nslab explain` on the machine that deployed the lab walks the rest"
                : "its part could not be read (\(report.unreadHosts.joined(separator: "; ")))"))
        } else {
            lines.append((explanation.reaches ? "verdict: ✓ " : "verdict: ✗ ") + explanation.summary)
        }
        for down in report.routingDown { lines.append("routing: \(down): the routes it would bring are missing") }
        lines.append("echo from \(report.from): \(report.observed)"
                     + (explanation.leavesThisHost ? "" : report.agrees ? " (as the model says)" : " — DISAGREES with the model: something the model does not read (firewall, rp_filter, a neighbour that does not answer) is in the way"))
        return lines.joined(separator: "\n")
    }
}
