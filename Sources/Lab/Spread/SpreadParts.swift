import Foundation
import Synchronization

/// `RemoteLabParts` over ssh: every host's own nslab (`events`, `inspect`, `link`, `verify`), on
/// connections this process owns, so that other commands closing theirs do not cut its streams.
public final class SpreadParts: RemoteLabParts {
    private let connections = SSHConnections.owned()
    /// Every host reached, for closing the connections at the end.
    private let reached = Mutex(Set<RemoteHost>())
    /// The streams started that someone still holds, for ending them at the end whoever holds
    /// them then (weak: a stream let go of is gone).
    private let started = Mutex([WeakStream]())

    struct WeakStream: @unchecked Sendable {
        weak var stream: RemoteEventStream?
    }
    /// How long `follow` waits for the hosts to say they follow.
    static let startTimeout = 15.0

    public init() {}

    public func layout(of lab: String) -> SpreadLayout? {
        guard SpreadLab.isSpread(lab: lab), let topology = try? SpreadLab.recorded(lab: lab) else { return nil }
        return SpreadLayout(topology)
    }

    private func hosts(_ lab: String) -> [RemoteHost] {
        let hosts = SpreadLab.partHosts(lab: lab)
        reached.withLock { $0.formUnion(hosts) }
        return hosts
    }

    public func follow(_ layout: SpreadLayout, except followed: Set<String>) -> [RemoteEventStream] {
        let streams = hosts(layout.lab).filter { !followed.contains($0.name) }.compactMap { try? RemoteEventStream.start(lab: layout.lab, host: $0, via: connections).get() }
        started.withLock { $0 = $0.filter { $0.stream != nil } + streams.map(WeakStream.init) }
        // Each waits for its own host; they connect at the same time.
        _ = RemoteHosts.each(streams) { $0.waitForStart(timeout: SpreadParts.startTimeout) }
        return streams
    }

    public func states(_ layout: SpreadLayout) -> [String: Result<LabState, LabError>] {
        let hosts = hosts(layout.lab)
        let outcomes = RemoteHosts.each(hosts) { RemoteHosts.nslab($0, ["inspect", "--json", layout.lab], via: self.connections) }
        var states: [String: Result<LabState, LabError>] = [:]
        for (host, outcome) in zip(hosts, outcomes) {
            states[host.name] = SpreadParts.decode(LabState.self, outcome)
        }
        return states
    }

    public func node(lab: String, node: String) throws -> NodeState? {
        guard let (_, host) = SpreadLab.remoteNode(node, lab: lab) else { return nil }
        reached.withLock { _ = $0.insert(host) }
        let state = try SpreadParts.decode(LabState.self, RemoteHosts.nslab(host, ["inspect", "--json", lab], via: connections)).get()
        return state.nodes.first { $0.name == node }
    }

    public func setLinkState(lab: String, end: String, up: Bool) throws -> [String]? {
        guard let ends = SpreadLab.linkEnds(lab: lab, end: end) else { return nil }
        var changed: [String] = []
        for (target, host) in ends {
            if let host {
                reached.withLock { _ = $0.insert(host) }
                let outcome = RemoteHosts.nslab(host, ["link", lab, target, up ? "up" : "down"], via: connections)
                guard outcome.succeeded else { throw LabError.refused("host \(host.name): \(outcome.reason)") }
                changed.append(target)
            } else {
                changed += try LinkControl.setState(lab: lab, target: target, up: up).map(\.id)
            }
        }
        return changed
    }

    public func verify(lab: String) throws -> VerifyReport {
        let hosts = hosts(lab)
        let local = SpreadLab.hasLocalNodes(lab: lab)
        // This machine's part (nil) probes while the hosts probe theirs.
        let parts: [RemoteHost?] = (local ? [nil] : []) + hosts
        let reports = RemoteHosts.each(parts) { host -> Result<VerifyReport, any Error> in
            guard let host else { return Result { try Verifier.verify(lab: lab) } }
            let outcome = RemoteHosts.nslab(host, ["verify", "--json", "--quiet", lab], via: self.connections)
            // Exit status 1: the host's verify ran and some pair failed; the report says which.
            guard outcome.status == 0 || outcome.status == 1 else { return .failure(LabError.refused("host \(host.name): \(outcome.reason)")) }
            return SpreadParts.decode(VerifyReport.self, outcome).mapError { $0 }
        }
        return VerifyReport.merging(try reports.map { try $0.get() }, lab: lab)
    }

    public func close() {
        started.withLock { streams in
            streams.forEach { $0.stream?.terminate() }
            streams = []
        }
        let hosts = reached.withLock { hosts in
            defer { hosts = [] }
            return Array(hosts)
        }
        if !hosts.isEmpty { RemoteHosts.closeConnections(hosts, of: connections) }
    }

    /// A host's JSON answer, or why there is none.
    static func decode<T: Decodable>(_ type: T.Type, _ outcome: HostOutcome) -> Result<T, LabError> {
        if let value = try? JSONDecoder().decode(T.self, from: Data(outcome.output.utf8)) { return .success(value) }
        let why = outcome.unreachable ? "cannot be reached: \(outcome.reason)" : outcome.succeeded ? "answered what is not JSON" : outcome.reason
        return .failure(.refused("host \(outcome.host ?? ""): \(why)"))
    }
}
