import Foundation

/// The other hosts' parts of the spread labs a follower (`nslab events`, `nslab serve`) watches:
/// one `RemoteEventStream` per lab and host, over ssh connections this process owns and closes
/// at its end.
public final class SpreadPartStreams: @unchecked Sendable {
    public let connections = SSHConnections.owned()
    private var streams: [String: [String: RemoteEventStream]] = [:]  // lab → host → stream
    /// Every host reached, for closing the connections at the end.
    private var reached: Set<RemoteHost> = []
    /// Labs destroyed here whose hosts' streams may still bring the hosts' own destroy: when they
    /// are stopped if they have not ended by then.
    private var released: [String: Double] = [:]
    /// A spread lab's destroy removes the hosts' parts before this machine's: their last events
    /// are on their way when this machine's record goes.
    static let releaseGrace = 5.0

    public init() {}

    /// Starts a stream for every host of `lab`'s record that holds nodes and has none running (a
    /// lab that is not spread has none). The streams started.
    @discardableResult
    public func follow(lab: String, note: (String) -> Void) -> [RemoteEventStream] {
        var started: [RemoteEventStream] = []
        released[lab] = nil
        for host in SpreadLab.partHosts(lab: lab) {
            if let running = streams[lab]?[host.name], running.ending == nil { continue }
            switch RemoteEventStream.start(lab: lab, host: host, via: connections) {
            case .success(let stream):
                streams[lab, default: [:]][host.name] = stream
                reached.insert(host)
                started.append(stream)
            case .failure(let error):
                note("lab \(lab): host \(host.name) cannot be followed: \(error)")
            }
        }
        return started
    }

    /// The streams of `lab` that still run.
    public func running(lab: String) -> [RemoteEventStream] {
        (streams[lab] ?? [:]).values.filter { $0.ending == nil }.sorted { $0.host.name < $1.host.name }
    }

    /// Every stream that still runs, for polling.
    public var all: [RemoteEventStream] { streams.keys.sorted().flatMap(running(lab:)) }

    /// What a stream's lines mean for a person following: its events, and notes for the start and
    /// for an end that is not the lab's destroy.
    public func receive(_ stream: RemoteEventStream, emit: (LabEvent) -> Void, note: (String) -> Void) {
        for line in stream.read() {
            switch line {
            case .event(let event): emit(event)
            case .started: note("following lab \(stream.lab) on host \(stream.host.name)")
            case .unreadable: break  // kept in the stream's reason if it fails
            }
        }
        if let message = stream.endNote { note(message) }
    }

    /// `lab` is gone from this machine: its streams are stopped once they end by themselves (the
    /// hosts' parts destroyed) or the grace is over.
    public func release(lab: String) {
        if !running(lab: lab).isEmpty { released[lab] = monotonicSeconds() + SpreadPartStreams.releaseGrace }
    }

    /// Stops the streams of released labs whose grace is over; true while some still run.
    public func expireReleased() -> Bool {
        let now = monotonicSeconds()
        for (lab, deadline) in released where deadline <= now || running(lab: lab).isEmpty {
            stop(lab: lab)
            released[lab] = nil
        }
        return !released.isEmpty
    }

    /// Ends `lab`'s streams.
    public func stop(lab: String) {
        streams.removeValue(forKey: lab)?.values.forEach { $0.stop() }
    }

    /// Ends every stream, then the connections they used: no ssh is left behind.
    public func stopAll() {
        streams.values.forEach { $0.values.forEach { $0.stop() } }
        streams = [:]
        if !reached.isEmpty { RemoteHosts.closeConnections(Array(reached), of: connections) }
        reached = []
    }
}
