import CShims
import NetAddress
import Namespaces
#if canImport(Glibc)
import Glibc
#endif

/// One probe to send: from which socket, to where, with which TTL.
struct Probe {
    var socket: Int
    var destination: IPAddress
    var ttl: Int?
}

/// One destination of the table a run probes.
struct ProbeTarget: Sendable {
    var destination: IPAddress
    var ttl: Int?
    /// Index of the node that holds the address, or -1: an all-pairs queue skips its own node's.
    var owner: Int32 = -1
}

/// What one socket sends, handed out one target at a time so that the probes of a big lab are
/// never all in memory at once (two million for a 1,000-leaf star, where a list of them cost
/// hundreds of MiB): a range of the target table less the socket's own node's addresses (all
/// pairs), then listed targets (chosen pairs), then extra ones (expectations only).
struct ProbeQueue: Sendable {
    var range: Range<Int32>
    /// The node whose addresses the range skips (-1: none).
    var skipping: Int32
    var listed: [Int32]
    var extra: [Int32] = []

    /// A probe taken from the queue: the target, whether it is an extra, and how often it was sent.
    struct Entry: Sendable {
        var target: Int32
        var isExtra: Bool
        var attempts: Int32
    }

    private var rangeNext: Int32
    private var listedNext = 0
    private var extraNext = 0
    /// Lost (or refused for a full send buffer) and to be sent again before anything new.
    private var resend: [Entry] = []

    init(range: Range<Int32> = 0..<0, skipping: Int32 = -1, listed: [Int32] = []) {
        self.range = range; self.skipping = skipping; self.listed = listed
        rangeNext = range.lowerBound
    }

    /// How many probes at most (for sharing sockets out between threads).
    var load: Int { range.count + listed.count + extra.count }

    /// The range part covers `target` (whose owner is `owner`).
    func rangeCovers(_ target: Int32, owner: Int32) -> Bool {
        range.contains(target) && (skipping < 0 || owner != skipping)
    }

    mutating func next(_ targets: [ProbeTarget]) -> Entry? {
        if let entry = resend.popLast() { return entry }
        while rangeNext < range.upperBound {
            let target = rangeNext
            rangeNext += 1
            if skipping < 0 || targets[Int(target)].owner != skipping { return Entry(target: target, isExtra: false, attempts: 0) }
        }
        if listedNext < listed.count {
            listedNext += 1
            return Entry(target: listed[listedNext - 1], isExtra: false, attempts: 0)
        }
        if extraNext < extra.count {
            extraNext += 1
            return Entry(target: extra[extraNext - 1], isExtra: true, attempts: 0)
        }
        return nil
    }

    mutating func putBack(_ entry: Entry) { resend.append(entry) }
}

/// Sends many probes from many sockets at once and reports what comes back.
///
/// One thread, no namespace switching: the sockets were opened inside their nodes and stay
/// there. Each socket keeps up to `window` probes in flight; the kernel's replies are read as
/// they arrive, so a lab that answers in microseconds is verified at the speed of its sends.
/// A probe unanswered after `timeout` is sent again `retries` times before it counts as lost.
/// Memory: the queues, and per socket the probes in flight; never one entry per probe.
enum ProbeEngine {
    /// What a finished probe reports: the socket (its index), the target, whether it was an
    /// extra of the queue, and the reply.
    typealias Outcome = (socket: Int, target: Int32, isExtra: Bool, reply: ProbeReply)

    /// A list of probes, their replies in the same order (ping, trace, explain: a few probes).
    static func run(sockets: [ICMPSocket], probes: [Probe], timeout: Double, retries: Int = 1,
                    window: Int = 64, payloadSize: Int = 16) -> [ProbeReply] {
        let targets = probes.map { ProbeTarget(destination: $0.destination, ttl: $0.ttl) }
        var listed = [[Int32]](repeating: [], count: sockets.count)
        for (index, probe) in probes.enumerated() { listed[probe.socket].append(Int32(index)) }
        var replies = [ProbeReply](repeating: .timeout, count: probes.count)
        stream(sockets: sockets, targets: targets, queues: listed.map { ProbeQueue(listed: $0) }, timeout: timeout,
               retries: retries, window: window, payloadSize: payloadSize) { replies[Int($0.target)] = $0.reply }
        return replies
    }

    /// The queues split over `threads` threads, each with its own share of the sockets: the
    /// kernel answers a ping inside the sender's system call (veth delivers on the sending CPU),
    /// so one thread kept one core busy and the other idle. Each thread keeps its own tally
    /// (`start()`, then `record` for every outcome, the socket index being the global one).
    static func runSplit<Tally>(sockets: [ICMPSocket], targets: [ProbeTarget], queues: [ProbeQueue], timeout: Double,
                                retries: Int = 1, threads: Int, start: () -> Tally,
                                record: (inout Tally, Outcome) -> Void) -> [Tally] {
        let total = queues.reduce(0) { $0 + $1.load }
        let groups = min(threads, sockets.count)
        func runGroup(_ members: [Int]) -> Tally {
            var tally = start()
            stream(sockets: members.map { sockets[$0] }, targets: targets, queues: members.map { queues[$0] },
                   timeout: timeout, retries: retries) { outcome in
                record(&tally, (members[outcome.socket], outcome.target, outcome.isExtra, outcome.reply))
            }
            return tally
        }
        guard groups > 1, total >= 1000 else { return [runGroup(Array(sockets.indices))] }
        // Busiest sockets first, each to the group with the fewest probes so far.
        var members = [[Int]](repeating: [], count: groups)
        var groupLoad = [Int](repeating: 0, count: groups)
        for socket in sockets.indices.sorted(by: { queues[$0].load > queues[$1].load }) {
            let group = groupLoad.indices.min { groupLoad[$0] < groupLoad[$1] } ?? 0
            members[group].append(socket)
            groupLoad[group] += queues[socket].load
        }
        return (try? NamespaceThread.forEach(members, threads: groups, runGroup)) ?? members.map(runGroup)
    }

    /// Sends every queue's probes from its socket and reports each outcome as it is known.
    static func stream(sockets: [ICMPSocket], targets: [ProbeTarget], queues initial: [ProbeQueue], timeout: Double,
                       retries: Int = 1, window: Int = 64, payloadSize: Int = 16, result: (Outcome) -> Void) {
        struct Flight {
            var entry: ProbeQueue.Entry
            var sentAt: Double
        }
        var queues = initial
        var inFlight = [[UInt16: Flight]](repeating: [:], count: sockets.count)
        var exhausted = [Bool](repeating: false, count: sockets.count)
        var nextSequence = [UInt16](repeating: 1, count: sockets.count)
        // In send order, so expiry only ever looks at the front; the part already looked at is
        // dropped now and then, so it holds about one timeout's worth of sends.
        var sendLog: [(socket: Int32, sequence: UInt16, at: Double)] = []
        var sendLogHead = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        var control = [UInt8](repeating: 0, count: 128)
        var pollSet = sockets.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }

        while true {
            var busy = false
            for s in sockets.indices {
                while inFlight[s].count < window, !exhausted[s] {
                    guard var entry = queues[s].next(targets) else {
                        exhausted[s] = true
                        break
                    }
                    let sequence = nextSequence[s]
                    nextSequence[s] = sequence == UInt16.max ? 1 : sequence + 1
                    let target = targets[Int(entry.target)]
                    let error = sockets[s].send(to: target.destination, sequence: sequence, ttl: target.ttl, payloadSize: payloadSize)
                    if error == EAGAIN || error == ENOBUFS {
                        queues[s].putBack(entry)  // the send queue is full: try again after reading
                        break
                    }
                    if error != 0 {
                        result((s, entry.target, entry.isExtra, .notSent(errno: error)))
                        continue
                    }
                    entry.attempts += 1
                    let now = monotonicSeconds()
                    inFlight[s][sequence] = Flight(entry: entry, sentAt: now)
                    sendLog.append((Int32(s), sequence, now))
                }
                if !exhausted[s] || !inFlight[s].isEmpty { busy = true }
            }
            if !busy { break }
            let now = monotonicSeconds()
            let nextExpiry = sendLogHead < sendLog.count ? sendLog[sendLogHead].at + timeout : now + 0.01
            let wait = max(0, min(nextExpiry - now, 0.05))
            let ready = poll(&pollSet, nfds_t(pollSet.count), Int32((wait * 1000).rounded(.up)))
            if ready > 0 {
                for (s, entry) in pollSet.enumerated() where entry.revents & Int16(POLLIN) != 0 {
                    while let message = sockets[s].receive(&buffer, &control) {
                        guard let flight = inFlight[s].removeValue(forKey: message.sequence) else { continue }
                        let rtt = monotonicSeconds() - flight.sentAt
                        let reply: ProbeReply
                        switch message.kind {
                        case .echoReply: reply = .echo(from: message.from, ttl: message.ttl, seconds: rtt)
                        case .timeExceeded: reply = .timeExceeded(from: message.from, seconds: rtt)
                        case .unreachable(let code): reply = .unreachable(from: message.from, code: code, seconds: rtt)
                        }
                        result((s, flight.entry.target, flight.entry.isExtra, reply))
                    }
                }
            }
            let later = monotonicSeconds()
            while sendLogHead < sendLog.count, sendLog[sendLogHead].at + timeout <= later {
                let (socket, sequence, at) = sendLog[sendLogHead]
                sendLogHead += 1
                let s = Int(socket)
                // Stale entries: answered already, or the sequence number reused since.
                guard let flight = inFlight[s][sequence], flight.sentAt == at else { continue }
                inFlight[s][sequence] = nil
                if flight.entry.attempts <= retries {
                    queues[s].putBack(flight.entry)
                    exhausted[s] = false
                } else {
                    result((s, flight.entry.target, flight.entry.isExtra, .timeout))
                }
            }
            if sendLogHead >= 65_536, sendLogHead * 2 >= sendLog.count {
                sendLog.removeFirst(sendLogHead)
                sendLogHead = 0
            }
        }
    }
}
