import Foundation
import NetAddress
import Topology

/// A lab spread over machines (`hosts:`), driven from the machine nslab runs on (the controller).
/// Each host's part is an ordinary lab on that host, deployed by the host's own nslab from the
/// part's file (`Topology.part`), with its own record: `destroy`, `doctor` and `inspect` work on
/// each host alone too. The controller records the whole lab, with every host's underlay address
/// resolved, in its own record directory (spread.yaml) before any host is touched, so a
/// controller that dies half-way still knows every host to clean.
public enum SpreadLab {
    static func path(lab: String) -> String { "\(LabRecord.root)/\(lab)/\(fileName)" }
    static let fileName = "spread.yaml"

    public static func isSpread(lab: String) -> Bool { FileManager.default.fileExists(atPath: path(lab: lab)) }

    /// The whole lab as last deployed, every host's underlay filled in.
    public static func recorded(lab: String) throws -> Topology {
        let file = path(lab: lab)
        guard let data = FileManager.default.contents(atPath: file) else { throw LabError.notDeployed(lab) }
        return try Topology.parse(yaml: String(decoding: data, as: UTF8.self), file: file)
    }

    /// The hosts of a recorded spread lab that hold a part of it.
    public static func hosts(lab: String) throws -> [RemoteHost] { try recorded(lab: lab).hostsWithNodes.map(RemoteHost.init) }

    /// The hosts that hold nodes of a recorded spread lab (one listed under `hosts:` without nodes
    /// has no part of it).
    public static func partHosts(lab: String) -> [RemoteHost] {
        isSpread(lab: lab) ? (try? hosts(lab: lab)) ?? [] : []
    }

    /// This machine holds nodes of the lab (a controller may hold none of a spread lab's).
    public static func hasLocalNodes(lab: String) -> Bool {
        (try? LabRecord.read(lab: lab).summary.namespaces.isEmpty) == false
    }

    /// The host a node of a spread lab runs on: nil when on this machine (or the lab is not spread).
    public static func host(of node: String, lab: String) -> RemoteHost? {
        guard isSpread(lab: lab), let topology = try? recorded(lab: lab), let name = topology.host(of: node) else { return nil }
        return topology.hosts.first { $0.name == name }.map(RemoteHost.init)
    }

    /// The spread lab with a node `node` on another host: `lab` when given and spread, else the
    /// only such lab. nil: the node is not a remote node of a spread lab (commands run here).
    public static func remoteNode(_ node: String, lab: String?) -> (lab: String, host: RemoteHost)? {
        let candidates = lab.map { [$0] } ?? LabRecord.labs()
        let found = candidates.compactMap { name in host(of: node, lab: name).map { (name, $0) } }
        return found.count == 1 ? found[0] : nil
    }

    /// The other end of a link between hosts named by `end` (NODE:INTERFACE), and its host (nil:
    /// this machine). nil when the lab is not spread or the link is not between hosts.
    public static func farEnd(of end: String, lab: String) -> (end: String, host: RemoteHost?)? {
        guard isSpread(lab: lab), let topology = try? recorded(lab: lab) else { return nil }
        for (link, _) in topology.crossHostLinks {
            guard let index = link.endpoints.firstIndex(where: { $0.id == end }) else { continue }
            let far = link.endpoints[1 - index]
            let host = topology.host(of: far.node).flatMap { name in topology.hosts.first { $0.name == name } }
            return (far.id, host.map(RemoteHost.init))
        }
        return nil
    }

    /// Where `nslab link LAB END down|up` acts on a spread lab: END on its node's host, and for a
    /// link between hosts its far end on the other host (a nil host: this machine). nil when END's
    /// node is here and its link does not leave this machine: LinkControl does it all here.
    public static func linkEnds(lab: String, end: String) -> [(end: String, host: RemoteHost?)]? {
        let host = remoteNode(String(end.prefix { $0 != ":" }), lab: lab)?.host
        if let far = farEnd(of: end, lab: lab) { return [(end, host), (far.end, far.host)] }
        return host.map { [(end, $0)] }
    }

    // MARK: reaching the hosts

    /// What the controller learnt of the hosts before changing anything.
    struct Resolution {
        /// Every host's underlay address; the controller's under "".
        var underlays: [String: IPAddress]
    }

    /// Every host reached, running this version of nslab, its underlay address known and the
    /// others' reachable from it. Nothing changes anywhere before this passes.
    static func resolve(_ topology: Topology, hosts: [RemoteHost], version: String) throws -> Resolution {
        let probes = RemoteHosts.each(hosts) { host in
            // One connection: where ssh landed (SSH_CONNECTION: client, client port, server, server port)
            // and the version of the host's nslab.
            RemoteHosts.run(host, line: "echo \"$SSH_CONNECTION\"; " + RemoteHosts.commandLine(host, ["--version"]))
        }
        var problems: [String] = []
        var underlays: [String: IPAddress] = [:]
        if let local = topology.vxlan.local { underlays[""] = local }
        for (host, probe) in zip(hosts, probes) {
            let lines = probe.output.split(separator: "\n").map(String.init)
            guard probe.succeeded, lines.count >= 2 else {
                problems.append(probe.unreachable || lines.isEmpty
                    ? "host \(host.name) (\(host.ssh)) cannot be reached: \(probe.reason)"
                    : "host \(host.name): `\(host.command) --version` failed: \(probe.reason); is nslab installed there?")
                continue
            }
            let remoteVersion = lines[1].trimmingCharacters(in: .whitespaces)
            if remoteVersion != version {
                problems.append("host \(host.name) runs nslab \(remoteVersion), this machine \(version): install the same version on both")
            }
            let words = lines[0].split(separator: " ").map(String.init)
            let declared = topology.hosts.first { $0.name == host.name }?.underlay
            if let address = declared ?? (words.count == 4 ? IPAddress(words[2]) : nil) {
                underlays[host.name] = address
            } else {
                problems.append("host \(host.name): its underlay address is not known; add `underlay: ADDRESS` to it under `hosts:`")
            }
            if underlays[""] == nil, words.count == 4, let controller = IPAddress(words[0]) { underlays[""] = controller }
        }
        if !problems.isEmpty { throw LabError.spread(problems) }
        // Each host reaches the underlay of every host it has a link to.
        let peers = tunnelPeers(topology)
        let known = underlays
        let checks = RemoteHosts.each(hosts.filter { peers[$0.name] != nil }) { host in
            let addresses = (peers[host.name] ?? []).compactMap { known[$0] }.map(\.description)
            return RemoteHosts.run(host, line: "for a in \(addresses.joined(separator: " ")); do ip route get \"$a\" >/dev/null 2>&1 || echo \"$a\"; done")
        }
        for check in checks {
            let missing = check.output.split(separator: "\n").map(String.init)
            if !check.succeeded {
                problems.append("host \(check.host ?? ""): checking its routes failed: \(check.reason)")
            } else if !missing.isEmpty {
                problems.append("host \(check.host ?? "") has no route to the underlay address\(missing.count == 1 ? "" : "es") "
                                + "\(missing.joined(separator: ", ")) of the hosts it has links to")
            }
        }
        let families = Set(underlays.values.map(\.family))
        if families.count > 1 {
            problems.append("the hosts' underlay addresses mix IPv4 and IPv6 (\(underlays.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "this machine" : $0.key) \($0.value)" }.joined(separator: ", "))); give each host an `underlay:` of one family")
        }
        if !problems.isEmpty { throw LabError.spread(problems) }
        return Resolution(underlays: underlays)
    }

    /// For every host, the hosts it has a link to ("" for the controller).
    static func tunnelPeers(_ topology: Topology) -> [String: Set<String>] {
        var peers: [String: Set<String>] = [:]
        for (link, _) in topology.crossHostLinks {
            let hosts = link.endpoints.map { topology.host(of: $0.node) ?? "" }
            peers[hosts[0], default: []].insert(hosts[1])
            peers[hosts[1], default: []].insert(hosts[0])
        }
        return peers
    }

    /// The file of `part`, a host's part of `topology` (`Topology.part`).
    static func partText(_ part: Topology, of topology: Topology) -> String {
        let host = part.placedOn.flatMap { $0.isEmpty ? nil : $0 }
        return YAMLWriter.yaml(of: part, header: [
            "Part \(host.map { "on host \($0)" } ?? "on the controller") of lab \(topology.name), spread over hosts: written by",
            "nslab from \(topology.file). Deploy, change and destroy the whole lab from the machine that deployed it.",
        ])
    }
}

extension LabError {
    static func spread(_ problems: [String]) -> LabError { .refused(problems.joined(separator: "\n")) }
}
