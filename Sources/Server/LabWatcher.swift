import CShims
import Foundation
import Lab
import Namespaces
import Netlink
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Watches every deployed lab for every viewer at once:
///
/// - one netlink event socket per node namespace (links, addresses, qdiscs), opened inside the
///   namespace; the kernel pushes every change, nothing is polled per viewer. One thread waits
///   on all of them (poll) and turns what they say into messages for every viewer's stream;
/// - /run/nslab, looked at twice a second (a directory read and a stat per lab), for labs
///   deployed, changed or destroyed; and /run/netns through inotify, so that the sockets of a
///   lab being destroyed are closed at once (an open socket keeps its namespace alive);
/// - the interface counters, read once a second for all viewers with a link dump on the same
///   sockets, only while someone is watching.
///
/// Reading a lab (its sockets, then the kernel's state of every node) happens on a second
/// thread, so that a large lab being read never holds back the events of the others.
///
/// A lab spread over hosts (deployed from here) is shown whole: its other hosts' parts are read
/// and followed through `RemoteLabParts` (each host's own `nslab inspect` and `nslab events`),
/// their events polled with the sockets.
public final class LabWatcher: @unchecked Sendable {
    /// What viewers and the HTTP handlers share with the threads.
    private struct Shared {
        var labs: [String: LiveLab] = [:]
        var viewers: [Int: AsyncStream<String>.Continuation] = [:]
        var nextViewer = 0
        var closed = false
    }

    /// What the page shows: interfaces, their addresses and impairments (not routes).
    static let groups: [NetlinkGroup] = [.link, .trafficControl, .ipv4Address, .ipv6Address]

    /// A lab read by the loader thread, for the watcher thread to take over.
    private struct Loaded: @unchecked Sendable {
        var lab: String
        var live: LiveLab?
        var watches: [NodeSubscription]
        /// A spread lab's other hosts' parts, followed from before they were read.
        var streams: [RemoteEventStream] = []
        var spread = false
    }

    private struct Loads {
        var queue: [String] = []
        var done: [Loaded] = []
    }

    private let shared = Mutex(Shared())
    private let loads = Mutex(Loads())
    private let loadRequested = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let wakeFDs: (read: Int32, write: Int32)
    private let actionsAllowed: Bool
    private let parts: (any RemoteLabParts)?
    private let finished = DispatchSemaphore(value: 0)
    static let counterInterval = 1.0
    static let scanInterval = 0.5
    static let keepaliveInterval = 10.0
    /// A lab whose namespaces are being deleted is read again once deletions pause this long.
    static let deletionPause = 0.3

    // Owned by the watcher thread.
    private var watches: [String: [NodeSubscription]] = [:]
    private var streams: [String: [RemoteEventStream]] = [:] {
        didSet { following.withLock { $0 = streams.mapValues { Set($0.map(\.host.name)) } } }
    }
    /// The hosts each lab's streams follow, for the loader: a reload reads a host's part again
    /// but keeps following it with the stream that runs.
    private let following = Mutex([String: Set<String>]())
    /// "lab host" of the hosts whose stream failed and has been reported: once, not per reload.
    private var failuresNoted: Set<String> = []
    private var pendingDumps: [String: Int] = [:]
    private var recordStamps: [String: String] = [:]
    private var reloadAt: [String: Double] = [:]
    private let inotify: Inotify?
    private var netnsWatched = false
    private var buffer: [UInt8] = []

    public init(actionsAllowed: Bool, parts: (any RemoteLabParts)? = nil) throws {
        var fds: [Int32] = [-1, -1]
        guard nslab_pipe_cloexec(&fds) == 0 else { throw SystemCallError("pipe2") }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeFDs = (fds[0], fds[1])
        self.actionsAllowed = actionsAllowed
        self.parts = parts
        inotify = try? Inotify()
        LabWatcher.raiseFileLimit()
    }

    deinit {
        close(wakeFDs.read); close(wakeFDs.write)
    }

    /// One socket per node: a large lab needs more than the usual 1,024 descriptors.
    private static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// Reads every lab deployed now, then watches on threads of their own until `stop`.
    public func start() async {
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { [self] in
                // Before the watcher thread exists, this thread may use its state.
                scan(now: monotonicSeconds())
                let labs = Array(reloadAt.keys)
                reloadAt = [:]
                let results = labs.map(load)
                loads.withLock { $0.done = results }
                takeLoadedLabs()
                Thread.detachNewThread { [self] in
                    loop()
                    finished.signal()
                }
                Thread.detachNewThread { [self] in loader() }
                started.resume()
            }
        }
    }

    /// Ends every viewer's stream and stops watching; every socket is closed. A lab being read
    /// at that moment is left to its thread, whose result is dropped.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        disconnectViewers()
        wake()
        loadRequested.signal()
        finished.wait()
        parts?.close()
    }

    /// Ends every viewer's stream (their pages reconnect), as the server shuts down; new
    /// viewers get a stream that ends at once.
    public func disconnectViewers() {
        let viewers = shared.withLock { shared in
            shared.closed = true
            defer { shared.viewers = [:] }
            return Array(shared.viewers.values)
        }
        viewers.forEach { $0.finish() }
    }

    // MARK: What the HTTP handlers ask

    public func labs() -> [LabView] { shared.withLock { shared in shared.labs.keys.sorted().compactMap { shared.labs[$0]?.view } } }

    public func lab(_ name: String) -> LabView? { shared.withLock { $0.labs[name]?.view } }

    public var viewerCount: Int { shared.withLock { $0.viewers.count } }

    /// A new viewer's stream: a snapshot of every lab first, then every change, in order. The
    /// stream ends when the viewer falls too far behind (its page reconnects and starts over).
    public func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(4096))
        let id: Int? = shared.withLock { shared in
            if shared.closed { return nil }
            let id = shared.nextViewer
            shared.nextViewer += 1
            let labs = shared.labs.keys.sorted().compactMap { shared.labs[$0] }
            continuation.yield("retry: 1000\n\n")
            continuation.yield(frame(.hello(actions: actionsAllowed, labs: labs.map(\.view),
                                            counters: Dictionary(uniqueKeysWithValues: labs.map { ($0.view.lab, $0.counters) }))))
            shared.viewers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.shared.withLock { _ = $0.viewers.removeValue(forKey: id) }
        }
        wake()  // the counters start with the first viewer
        return stream
    }

    // MARK: Pushing to viewers

    /// Yields to every viewer; called with the lock held, so that a viewer subscribing at the
    /// same time gets either the change in its snapshot or the message, never neither. Viewers
    /// whose buffer is full are returned, to be ended once the lock is released.
    private static func broadcast(_ frame: String, to shared: inout Shared) -> [AsyncStream<String>.Continuation] {
        var behind: [AsyncStream<String>.Continuation] = []
        for (id, viewer) in shared.viewers {
            if case .dropped = viewer.yield(frame) {
                behind.append(viewer)
                shared.viewers[id] = nil
            }
        }
        return behind
    }

    /// Changes the shared state and pushes the messages `body` returns, atomically.
    private func publish(_ body: (inout Shared) -> [Message]) {
        let behind = shared.withLock { shared in
            body(&shared).flatMap { LabWatcher.broadcast(frame($0), to: &shared) }
        }
        behind.forEach { $0.finish() }
    }

    private func publishFrame(_ frame: String) {
        let behind = shared.withLock { LabWatcher.broadcast(frame, to: &$0) }
        behind.forEach { $0.finish() }
    }

    // MARK: The watcher thread

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeFDs.write, &byte, 1)
    }

    private func loop() {
        var lastScan = -Double.infinity, lastTick = -Double.infinity, lastKeepalive = monotonicSeconds()
        while !stopping.load(ordering: .acquiring) {
            let now = monotonicSeconds()
            if now >= lastScan + LabWatcher.scanInterval {
                scan(now: now)
                lastScan = now
            }
            requestDueLoads(now: now)
            if viewerCount > 0 {
                if now >= lastTick + LabWatcher.counterInterval {
                    requestCounters()
                    lastTick = now
                }
                if now >= lastKeepalive + LabWatcher.keepaliveInterval {
                    publishFrame(": keepalive\n\n")
                    lastKeepalive = now
                }
            } else {
                lastTick = -Double.infinity
            }

            var deadline = min(lastScan + LabWatcher.scanInterval, reloadAt.values.min() ?? .infinity)
            if viewerCount > 0 { deadline = min(deadline, lastTick + LabWatcher.counterInterval, lastKeepalive + LabWatcher.keepaliveInterval) }
            let polled = watches.values.flatMap { $0 }
            let remote = streams.values.flatMap { $0 }.flatMap { stream in stream.descriptors.map { (stream, $0) } }
            var fds = [pollfd(fd: wakeFDs.read, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: inotify?.fd ?? -1, events: Int16(POLLIN), revents: 0)]
            fds += polled.map { pollfd(fd: $0.socket.fd, events: Int16(POLLIN), revents: 0) }
            fds += remote.map { pollfd(fd: $0.1, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(max(0, min(deadline - now, 1)) * 1000))
            if ready < 0 && errno != EINTR { break }
            if ready <= 0 { continue }
            if fds[0].revents != 0 {
                drain(wakeFDs.read)
                takeLoadedLabs()
            }
            if fds[1].revents != 0 { readNamespaceDeletions() }
            // A lab may have been dropped or replaced above: only its current sockets are read.
            let current = Set(watches.values.flatMap { $0 }.map(ObjectIdentifier.init))
            for (watch, fd) in zip(polled, fds.dropFirst(2)) where fd.revents != 0 && current.contains(ObjectIdentifier(watch)) {
                receive(from: watch)
            }
            let following = Set(streams.values.flatMap { $0 }.map(ObjectIdentifier.init))
            var received = Set<ObjectIdentifier>()
            for ((stream, _), fd) in zip(remote, fds.dropFirst(2 + polled.count)) where fd.revents != 0 {
                // Both its pipes may be ready: one read takes what each holds.
                guard following.contains(ObjectIdentifier(stream)), received.insert(ObjectIdentifier(stream)).inserted else { continue }
                receive(from: stream)
            }
        }
        watches = [:]
        streams.values.forEach { $0.forEach { $0.stop() } }
        streams = [:]
    }

    private func drain(_ fd: Int32) {
        var bytes = [UInt8](repeating: 0, count: 256)
        while Glibc.read(fd, &bytes, bytes.count) > 0 {}
    }

    /// Reads a node's socket and applies what it says to its lab.
    private func receive(from watch: NodeSubscription) {
        let events: [NetlinkEvent]
        do {
            events = try watch.socket.receive(buffer: &buffer)
        } catch {
            reloadAt[watch.lab] = min(reloadAt[watch.lab] ?? .infinity, monotonicSeconds() + 0.1)
            return
        }
        if events.isEmpty { return }
        var needsReload = false
        var countersDone = false
        for event in events {
            if case .dumpDone(let sequence) = event, sequence == watch.pendingDump {
                watch.pendingDump = nil
                pendingDumps[watch.lab, default: 1] -= 1
                countersDone = pendingDumps[watch.lab] == 0
            }
        }
        publish { shared in
            guard var live = shared.labs[watch.lab] else { return [] }
            var messages: [Message] = []
            for event in events {
                if case .overrun = event { needsReload = true }
                switch live.apply(event, node: watch.node) {
                case .none: break
                case .structure: needsReload = true
                case .interface(let node, let interface):
                    messages.append(.interface(lab: watch.lab, node: node, interface))
                }
            }
            // Sent even when nothing moved: the page shows rates, and idle is a rate of zero.
            if countersDone { messages.append(.counters(lab: watch.lab, live.takeChangedCounters())) }
            shared.labs[watch.lab] = live
            return messages
        }
        if needsReload { reloadAt[watch.lab] = min(reloadAt[watch.lab] ?? .infinity, monotonicSeconds() + 0.1) }
    }

    /// Reads a host's stream and applies its events to its lab.
    private func receive(from stream: RemoteEventStream) {
        let events = stream.read().compactMap { line -> LabEvent? in
            if case .event(let event) = line { return event } else { return nil }
        }
        var needsReload = false
        if !events.isEmpty {
            publish { shared in
                guard var live = shared.labs[stream.lab] else { return [] }
                var messages: [Message] = []
                for event in events {
                    switch live.apply(event) {
                    case .none: break
                    case .structure: needsReload = true
                    case .interface(let node, let interface): messages.append(.interface(lab: stream.lab, node: node, interface))
                    }
                }
                shared.labs[stream.lab] = live
                return messages
            }
        }
        if needsReload { reloadAt[stream.lab] = min(reloadAt[stream.lab] ?? .infinity, monotonicSeconds() + 0.1) }
        if stream.ending != nil {
            noteEnd(of: stream)
            streams[stream.lab]?.removeAll { $0 === stream }
        }
    }

    /// Says on stderr why a host's part is no longer followed, once until it is followed again.
    private func noteEnd(of stream: RemoteEventStream) {
        let key = "\(stream.lab) \(stream.host.name)"
        guard stream.ending != nil else { failuresNoted.remove(key); return }
        guard let note = stream.endNote, failuresNoted.insert(key).inserted else { return }
        FileHandle.standardError.write(Data("nslab: \(note)\n".utf8))
    }

    /// One link dump per node namespace: its answers carry every interface's counters. A lab
    /// whose last dumps have not all answered yet is skipped this time.
    private func requestCounters() {
        for (lab, labWatches) in watches where (pendingDumps[lab] ?? 0) == 0 {
            var pending = 0
            for watch in labWatches {
                watch.pendingDump = try? watch.socket.requestLinkDump()
                if watch.pendingDump != nil { pending += 1 }
            }
            pendingDumps[lab] = pending
        }
    }

    // MARK: Labs appearing, changing and going

    /// Labs whose record appeared, changed or went since the last look are read again.
    private func scan(now: Double) {
        watchNetnsDirectory()
        var stamps: [String: String] = [:]
        for lab in LabRecord.labs() {
            var info = stat()
            guard stat("\(LabRecord.root)/\(lab)/record.jsonl", &info) == 0 else { continue }
            stamps[lab] = "\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        for lab in Set(stamps.keys).union(recordStamps.keys) where stamps[lab] != recordStamps[lab] {
            reloadAt[lab] = min(reloadAt[lab] ?? .infinity, now)
        }
        recordStamps = stamps
    }

    /// /run/netns may appear after the server starts (the first lab ever deployed makes it).
    private func watchNetnsDirectory() {
        guard !netnsWatched, let inotify else { return }
        netnsWatched = inotify.watch(NamedNamespaces.directory, mask: IN_DELETE | IN_MOVED_FROM) != nil
    }

    /// Namespaces of a watched lab were deleted: close the lab's sockets now, so that they do not
    /// keep its namespaces (and their interfaces) alive, and read the lab again once the
    /// deletions pause (a destroy deletes them one after the other).
    private func readNamespaceDeletions() {
        let deleted = Set((inotify?.read() ?? []).map(\.name))
        let now = monotonicSeconds()
        for (lab, labWatches) in watches where labWatches.contains(where: { deleted.contains($0.namespace) }) {
            watches[lab] = nil
            pendingDumps[lab] = nil
            reloadAt[lab] = now + LabWatcher.deletionPause
        }
        for (lab, at) in reloadAt where at > now && watches[lab] == nil {
            reloadAt[lab] = now + LabWatcher.deletionPause  // still being destroyed: wait on
        }
    }

    private func requestDueLoads(now: Double) {
        let due = reloadAt.filter { $0.value <= now }.map(\.key)
        if due.isEmpty { return }
        for lab in due { reloadAt[lab] = nil }
        let added = loads.withLock { loads in
            let new = due.filter { !loads.queue.contains($0) }
            loads.queue += new
            return new.count
        }
        for _ in 0..<added { loadRequested.signal() }
    }

    /// Installs what the loader read: the lab's new sockets replace its old ones, and the page
    /// gets the lab (or learns that it is gone).
    private func takeLoadedLabs() {
        let done = loads.withLock { loads in
            defer { loads.done = [] }
            return loads.done
        }
        for result in done {
            // Namespaces deleted while the lab was read: their sockets must not keep them alive.
            let kept = result.watches.filter { NamedNamespaces.exists($0.namespace) }
            watches[result.lab] = kept.isEmpty ? nil : kept
            pendingDumps[result.lab] = nil
            // The streams started for this read join those that ran through it (those of hosts the
            // lab no longer has, or of a lab that is gone, end).
            let hosts = Set(result.live?.view.nodes.compactMap(\.host) ?? [])
            var running = streams.removeValue(forKey: result.lab) ?? []
            for stream in running where !hosts.contains(stream.host.name) { stream.stop() }
            running.removeAll { $0.ending != nil }
            // A host that could not be reached ended its stream while the lab was read.
            result.streams.forEach(noteEnd)
            running += result.streams.filter { $0.ending == nil }
            if !running.isEmpty { streams[result.lab] = running }
            // A spread lab may have no node here: it stays while its record does.
            let shown = !kept.isEmpty || result.spread
            publish { shared in
                let had = shared.labs[result.lab] != nil
                shared.labs[result.lab] = shown ? result.live : nil
                if let live = result.live, shown { return [.lab(live.view)] }
                return had ? [.labRemoved(result.lab)] : []
            }
        }
    }

    // MARK: The loader thread

    private func loader() {
        while true {
            loadRequested.wait()
            if stopping.load(ordering: .acquiring) { return }
            let next = loads.withLock { loads in loads.queue.isEmpty ? nil : loads.queue.removeFirst() }
            guard let lab = next else { continue }
            let result = load(lab)
            if stopping.load(ordering: .acquiring) {
                result.streams.forEach { $0.stop() }
                return
            }
            loads.withLock { $0.done.append(result) }
            wake()
        }
    }

    /// Reads a lab from scratch: its event sockets (and a spread lab's hosts' event streams, for
    /// the hosts not followed yet) first, so that no change between the reading and the subscription is lost, then the
    /// kernel's state of every node (and each host's part). A lab that is gone, not completely
    /// deployed, or without any namespace left (nor other hosts) has no `live` view.
    private func load(_ lab: String) -> Loaded {
        guard let summary = try? LabRecord.read(lab: lab).summary, summary.isComplete else {
            return Loaded(lab: lab, live: nil, watches: [])
        }
        let layout = parts?.layout(of: lab)
        let watches = NodeSubscription.open(summary, groups: LabWatcher.groups)
        let followed = following.withLock { $0[lab] ?? [] }
        let streams = layout.map { parts?.follow($0, except: followed) ?? [] } ?? []
        guard !watches.isEmpty || layout != nil, let observed = try? ObservedLab.read(deployed: lab).lab else {
            streams.forEach { $0.stop() }
            return Loaded(lab: lab, live: nil, watches: [])
        }
        var live = LiveLab(observed)
        if let layout, let parts { live.addParts(layout, states: parts.states(layout)) }
        return Loaded(lab: lab, live: live, watches: watches, streams: streams, spread: layout != nil)
    }
}
