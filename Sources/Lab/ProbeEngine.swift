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

    /// A probe taken from the queue: the target, whether it is an extra, how often it was sent,
    /// and how often the kernel refused it for want of a neighbour entry (which is not a loss:
    /// a probe refused, then sent and lost, is still sent again).
    struct Entry: Sendable {
        var target: Int32
        var isExtra: Bool
        var attempts: Int32
        var refusals: Int32 = 0
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

/// The sockets a run sends from, by index: opened when their turn comes and closed as soon as
/// their queue is done and nothing of theirs is in flight, at most `openAtOnce` at a time. A lab
/// of 10,000 nodes has 20,000 sockets to send from (a node's per family); all open at once they
/// needed 20,000 open files.
struct ProbeSockets {
    var count: Int
    var openAtOnce: Int
    /// Opens socket `index`, on the thread that sends from it (a NamespaceThread worker for
    /// sockets opened inside nodes).
    var open: (Int) throws -> ICMPSocket

    /// Sockets already open (ping, trace, explain: a node's one or two).
    static func opened(_ sockets: [ICMPSocket]) -> ProbeSockets {
        ProbeSockets(count: sockets.count, openAtOnce: max(1, sockets.count)) { sockets[$0] }
    }

    /// These of the sockets (`members`, in order), as their own numbering 0..<members.count.
    func subset(_ members: [Int], openAtOnce limit: Int) -> ProbeSockets {
        ProbeSockets(count: members.count, openAtOnce: max(1, limit)) { try open(members[$0]) }
    }
}

/// Sends many probes from many sockets at once and reports what comes back.
///
/// One thread per group of sockets, no namespace switching between sends: each socket is opened
/// inside its node and stays there. Each socket keeps up to `window` probes in flight; the
/// kernel's replies are read as they arrive, so a lab that answers in microseconds is verified at
/// the speed of its sends. A probe unanswered after `timeout` is sent again `retries` times
/// before it counts as lost. Memory: the queues, and per open socket the probes in flight; never
/// one entry per probe. Files: `openAtOnce` sockets.
enum ProbeEngine {
    /// What a finished probe reports: the socket (its index), the target, whether it was an
    /// extra of the queue, and the reply.
    typealias Outcome = (socket: Int, target: Int32, isExtra: Bool, reply: ProbeReply)

    /// Probes in flight per sending thread, shared out between its open sockets: as many as when
    /// every socket of a 1,000-node lab was open with 64 each, so that a run whose probes are
    /// lost (each waits out its timeouts) is not slowed by having fewer sockets open.
    static let inFlightPerThread = 65_536

    /// A list of probes, their replies in the same order (ping, trace, explain: a few probes).
    static func run(sockets: [ICMPSocket], probes: [Probe], timeout: Double, retries: Int = 1,
                    window: Int = 64, payloadSize: Int = 16) -> [ProbeReply] {
        let targets = probes.map { ProbeTarget(destination: $0.destination, ttl: $0.ttl) }
        var listed = [[Int32]](repeating: [], count: sockets.count)
        for (index, probe) in probes.enumerated() { listed[probe.socket].append(Int32(index)) }
        var replies = [ProbeReply](repeating: .timeout, count: probes.count)
        // Already open: nothing to fail.
        try? stream(sockets: .opened(sockets), targets: targets, queues: listed.map { ProbeQueue(listed: $0) },
                    timeout: timeout, retries: retries, window: window, payloadSize: payloadSize) { replies[Int($0.target)] = $0.reply }
        return replies
    }

    /// The queues split over `threads` threads, each with its own share of the sockets: the
    /// kernel answers a ping inside the sender's system call (veth delivers on the sending CPU),
    /// so one thread kept one core busy and the other idle. Each thread keeps its own tally
    /// (`start()`, then `record` for every outcome, the socket index being the global one) and
    /// opens its sockets itself, on a thread of its own (NamespaceThread).
    static func runSplit<Tally>(sockets: ProbeSockets, targets: [ProbeTarget], queues: [ProbeQueue], timeout: Double,
                                retries: Int = 1, threads: Int, start: () -> Tally,
                                record: (inout Tally, Outcome) -> Void) throws -> [Tally] {
        let total = queues.reduce(0) { $0 + $1.load }
        let groups = total >= 1000 ? max(1, min(threads, sockets.count)) : 1
        // Busiest sockets first, each to the group with the fewest probes so far.
        var members = [[Int]](repeating: [], count: groups)
        var groupLoad = [Int](repeating: 0, count: groups)
        for socket in queues.indices.sorted(by: { queues[$0].load > queues[$1].load }) {
            let group = groupLoad.indices.min { groupLoad[$0] < groupLoad[$1] } ?? 0
            members[group].append(socket)
            groupLoad[group] += queues[socket].load
        }
        // In socket order within a group: a node's sockets (one per family) are opened together.
        members = members.map { $0.sorted() }
        let openPerGroup = max(1, sockets.openAtOnce / groups)
        return try NamespaceThread.forEach(members, threads: groups) { members in
            var tally = start()
            try stream(sockets: sockets.subset(members, openAtOnce: openPerGroup), targets: targets,
                       queues: members.map { queues[$0] }, timeout: timeout, retries: retries,
                       window: max(64, inFlightPerThread / openPerGroup)) { outcome in
                record(&tally, (members[outcome.socket], outcome.target, outcome.isExtra, outcome.reply))
            }
            return tally
        }
    }

    /// Sends every queue's probes from its socket and reports each outcome as it is known.
    /// Throws what opening a socket throws (the sockets opened before it are closed).
    /// Sends refused for want of a neighbour entry before the probe counts as not sent: each
    /// comes after a poll of up to 50 ms, so about a second at most.
    static let neighbourRetries: Int32 = 20

    static func stream(sockets supply: ProbeSockets, targets: [ProbeTarget], queues initial: [ProbeQueue], timeout: Double,
                       retries: Int = 1, window: Int = 64, payloadSize: Int = 16, result: (Outcome) -> Void) throws {
        struct Flight {
            var entry: ProbeQueue.Entry
            var sentAt: Double
        }
        let count = supply.count
        var sockets = [ICMPSocket?](repeating: nil, count: count)
        /// The sockets open now, and the next one to open.
        var active: [Int] = []
        var nextToOpen = 0
        var queues = initial
        var inFlight = [[UInt16: Flight]](repeating: [:], count: count)
        var exhausted = [Bool](repeating: false, count: count)
        var nextSequence = [UInt16](repeating: 1, count: count)
        // In send order, so expiry only ever looks at the front; the part already looked at is
        // dropped now and then, so it holds about one timeout's worth of sends.
        var sendLog: [(socket: Int32, sequence: UInt16, at: Double)] = []
        var sendLogHead = 0
        let batch = ProbeBatch(payloadSize: payloadSize)
        var gathered: [(entry: ProbeQueue.Entry, sequence: UInt16)] = []
        var batchProbes: [(destination: IPAddress, sequence: UInt16)] = []
        var pollSet: [pollfd] = []

        while true {
            // Done sockets closed, the next ones opened in their place.
            let before = active.count
            active.removeAll { s in
                guard exhausted[s], inFlight[s].isEmpty else { return false }
                sockets[s] = nil
                return true
            }
            var changed = active.count != before
            while active.count < supply.openAtOnce, nextToOpen < count {
                sockets[nextToOpen] = try supply.open(nextToOpen)
                active.append(nextToOpen)
                nextToOpen += 1
                changed = true
            }
            if changed {
                pollSet = active.map { pollfd(fd: sockets[$0]?.fd ?? -1, events: Int16(POLLIN), revents: 0) }
            }
            var busy = false
            for s in active {
                guard let socket = sockets[s] else { continue }
                while inFlight[s].count < window, !exhausted[s] {
                    // One sendmmsg for up to a batch of probes with the same TTL.
                    gathered.removeAll(keepingCapacity: true)
                    batchProbes.removeAll(keepingCapacity: true)
                    var batchTTL: Int?
                    while gathered.count < min(batch.capacity, window - inFlight[s].count) {
                        guard let entry = queues[s].next(targets) else {
                            exhausted[s] = true
                            break
                        }
                        let target = targets[Int(entry.target)]
                        if !gathered.isEmpty, target.ttl != batchTTL {
                            queues[s].putBack(entry)
                            break
                        }
                        batchTTL = target.ttl
                        let sequence = nextSequence[s]
                        nextSequence[s] = sequence == UInt16.max ? 1 : sequence + 1
                        gathered.append((entry, sequence))
                        batchProbes.append((target.destination, sequence))
                    }
                    if gathered.isEmpty { break }
                    let (sent, error) = batch.send(batchProbes, from: socket, ttl: batchTTL)
                    let now = monotonicSeconds()
                    for (entry, sequence) in gathered[0..<sent] {
                        var entry = entry
                        entry.attempts += 1
                        inFlight[s][sequence] = Flight(entry: entry, sentAt: now)
                        sendLog.append((Int32(s), sequence, now))
                    }
                    if sent == gathered.count { continue }
                    // The kernel refused gathered[sent] (and took none after it): the rest go
                    // back to the queue, in order, to be sent next.
                    var unsent = sent
                    if sent == 0 {
                        // A full send queue (EAGAIN, ENOBUFS) passes; so does a full neighbour
                        // table, which IPv6 reports as EINVAL where IPv4 says ENOBUFS: labs beside
                        // this one fill it and the kernel's garbage collection empties it, so the
                        // probe is tried again, a while. Anything else is the probe's answer.
                        if error == EINVAL { gathered[0].entry.refusals += 1 }
                        let passing = error == EAGAIN || error == ENOBUFS
                            || (error == EINVAL && gathered[0].entry.refusals < ProbeEngine.neighbourRetries)
                        if !passing {
                            result((s, gathered[0].entry.target, gathered[0].entry.isExtra, .notSent(errno: error)))
                            unsent = 1
                        }
                    }
                    for (entry, _) in gathered[unsent...].reversed() { queues[s].putBack(entry) }
                    exhausted[s] = false
                    // A full send queue or neighbour table: read first, which waits a little
                    // (sent > 0: the next call says why it stopped).
                    if sent == 0, unsent == 0 { break }
                }
                if !exhausted[s] || !inFlight[s].isEmpty { busy = true }
            }
            if !busy {
                if nextToOpen >= count { break }
                continue  // every open socket is done: open the next ones
            }
            let now = monotonicSeconds()
            let nextExpiry = sendLogHead < sendLog.count ? sendLog[sendLogHead].at + timeout : now + 0.01
            let wait = max(0, min(nextExpiry - now, 0.05))
            let ready = poll(&pollSet, nfds_t(pollSet.count), Int32((wait * 1000).rounded(.up)))
            if ready > 0 {
                for (slot, entry) in pollSet.enumerated() where entry.revents & Int16(POLLIN) != 0 {
                    let s = active[slot]
                    guard let socket = sockets[s] else { continue }
                    // Until a recvmmsg finds fewer than it has room for: the queue was empty then.
                    var read = batch.capacity
                    while read == batch.capacity {
                        let now = monotonicSeconds()
                        read = batch.receive(from: socket) { message in
                            guard let flight = inFlight[s].removeValue(forKey: message.sequence) else { return }
                            let rtt = now - flight.sentAt
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
