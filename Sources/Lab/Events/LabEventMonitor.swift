import CShims
import Foundation
import Namespaces
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// Follows deployed labs and reports what changes in them, in the order it is seen:
///
/// - the kernel: one netlink event socket per node (links, addresses, routes, qdiscs), opened
///   inside the node's namespace; nothing is polled;
/// - the lab's journal, read as it grows (inotify on the lab's directory): deployed, converged,
///   nodes added, removed, stopped and started, processes started — and each process's exit,
///   seen on a pidfd opened for it (the pid and start time checked, so a recycled pid is not it);
/// - /run/nslab (inotify): a lab's directory appearing (a deploy begins) or going (destroyed);
///   /run/netns (inotify): a node's namespace deleted, so that its socket, which would keep the
///   namespace alive, is closed at once.
///
/// Kernel changes are reported once the lab is deployed: the deploy itself is one event. A spread
/// lab's parts on other hosts are followed by those hosts' own nslab over ssh
/// (`SpreadPartStreams`), their events merged into the same stream, each named by its host.
public final class LabEventMonitor {
    /// Labs named on the command line; nil: every lab.
    private let named: Set<String>?
    /// Keep going when no lab is left, and follow labs deployed from now on.
    private let follow: Bool
    private let inotify: Inotify
    private var runWatch: Int32?
    private var rootWatch: Int32?
    private var netnsWatch: Int32?
    private var labs: [String: FollowedLab] = [:]
    /// Named labs that are not deployed (yet).
    private var waiting: Set<String> = []
    private var buffer: [UInt8] = []
    private let parts = SpreadPartStreams()
    /// The reader of the output went away: nobody is following any more.
    private var outputClosed = false

    static let groups: [NetlinkGroup] = NetlinkGroup.allCases
    static let journalName = "record.jsonl"

    /// Links first (addresses name their interface by index), then addresses; one at a time on
    /// a socket.
    private enum BaselineDump { case links, addresses }

    /// A lab being followed: where its journal was read to, its nodes' sockets and its processes.
    private final class FollowedLab {
        let name: String
        var directoryWatch: Int32?
        var journalOffset: UInt64 = 0
        var partialLine: [UInt8] = []
        var file: String?
        var deployed = false
        var nodes: [String: String] = [:]  // namespace → node
        var subscriptions: [String: NodeSubscription] = [:]  // by namespace
        var translators: [String: NodeEventTranslator] = [:]
        /// Which dump a node's socket is answering, until its baseline is read.
        var baseline: [String: BaselineDump] = [:]
        /// A pidfd per recorded process that still runs.
        var processes: [Int32: RecordEntry] = [:]

        init(name: String) { self.name = name }

        func close() {
            subscriptions = [:]
            for fd in processes.keys { Glibc.close(fd) }
            processes = [:]
        }
    }

    public init(labs: [String], follow: Bool) throws(LabError) {
        named = labs.isEmpty ? nil : Set(labs)
        self.follow = follow
        do {
            inotify = try Inotify()
        } catch {
            throw LabError.system(error, context: "watching /run/nslab")
        }
    }

    deinit {
        labs.values.forEach { $0.close() }
        parts.stopAll()
    }

    /// Follows until every lab it follows is destroyed (with `follow`: until interrupted), or
    /// until SIGINT/SIGTERM once `Interruption.catchSignals` was called, or until `output` (the
    /// descriptor the events are written to) has no reader any more: a follower run over ssh ends
    /// when the ssh that started it does. `emit` gets every event in order; `note` what a person
    /// should know that is not an event; `started` is called once the labs there are now are
    /// followed (their sockets open). Every ssh it started has ended when it returns.
    public func run(emit: (LabEvent) -> Void, note: (String) -> Void, started: () -> Void = {}, output: Int32? = nil) {
        defer { parts.stopAll() }
        runWatch = inotify.watch("/run", mask: IN_CREATE | IN_MOVED_TO)
        attachNetns()
        attachRoot(initial: true, emit: emit, note: note)
        waiting = (named ?? []).subtracting(labs.keys)
        for lab in waiting.sorted() { note("waiting for lab \(lab) to be deployed") }
        if labs.isEmpty && waiting.isEmpty && !follow {
            note("no labs are deployed: nothing to follow (--follow waits for labs to be deployed)")
            return
        }
        for lab in labs.keys.sorted() { note("following lab \(lab)") }
        started()
        while Interruption.signal == nil && !outputClosed {
            let releasing = parts.expireReleased()
            guard follow || !labs.isEmpty || !waiting.isEmpty || releasing else { break }
            waitAndDispatch(emit: emit, note: note, output: output)
        }
    }

    private func waitAndDispatch(emit: (LabEvent) -> Void, note: (String) -> Void, output: Int32?) {
        let sockets = labs.values.flatMap { lab in lab.subscriptions.values.map { (lab, $0) } }
        let processes = labs.values.flatMap { lab in lab.processes.keys.map { (lab, $0) } }
        let remote = parts.all.flatMap { stream in stream.descriptors.map { (stream, $0) } }
        var fds = [pollfd(fd: inotify.fd, events: Int16(POLLIN), revents: 0)]
        fds += sockets.map { pollfd(fd: $0.1.socket.fd, events: Int16(POLLIN), revents: 0) }
        fds += processes.map { pollfd(fd: $0.1, events: Int16(POLLIN), revents: 0) }
        fds += remote.map { pollfd(fd: $0.1, events: Int16(POLLIN), revents: 0) }
        // Asked for nothing: POLLERR (a pipe's reader closed it), POLLHUP and POLLNVAL (no such
        // descriptor: nothing can be written) come anyway.
        fds.append(pollfd(fd: output ?? -1, events: 0, revents: 0))
        // The timeout only lets a Ctrl-C delivered to another thread be seen; nothing is read on it.
        let ready = poll(&fds, nfds_t(fds.count), 250)
        guard ready > 0 else { return }
        if fds[fds.count - 1].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { outputClosed = true }
        let remoteStart = 1 + sockets.count + processes.count
        var received = Set<ObjectIdentifier>()
        for (n, (stream, _)) in remote.enumerated() where fds[remoteStart + n].revents != 0 {
            // Both its pipes may be ready: one read takes what each holds.
            if received.insert(ObjectIdentifier(stream)).inserted { parts.receive(stream, emit: emit, note: note) }
        }
        for (n, (lab, subscription)) in sockets.enumerated() where fds[1 + n].revents != 0 {
            // Dropped meanwhile (its namespace was deleted): its socket is not read again.
            guard labs[lab.name] === lab, lab.subscriptions[subscription.namespace] === subscription else { continue }
            receive(lab, subscription, emit: emit, note: note)
        }
        for (n, (lab, fd)) in processes.enumerated() where fds[1 + sockets.count + n].revents != 0 {
            guard let entry = lab.processes.removeValue(forKey: fd) else { continue }
            Glibc.close(fd)
            emit(LabEvent(type: .processExited, lab: lab.name, node: entry.node, pid: entry.pid, command: entry.command))
        }
        if fds[0].revents != 0 { directoryEvents(emit: emit, note: note) }
    }

    // MARK: Directories

    private func attachRoot(initial: Bool, emit: (LabEvent) -> Void, note: (String) -> Void) {
        guard rootWatch == nil else { return }
        rootWatch = inotify.watch(LabRecord.root, mask: IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF)
        guard rootWatch != nil else { return }
        for lab in LabRecord.labs() where labs[lab] == nil && wants(lab, initial: initial) {
            add(lab, history: initial, emit: emit, note: note)
        }
    }

    private func attachNetns() {
        guard netnsWatch == nil else { return }
        netnsWatch = inotify.watch(NamedNamespaces.directory, mask: IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF)
    }

    /// At the start every lab is followed (or the named ones); later, only named labs, or any
    /// lab with `follow`.
    private func wants(_ lab: String, initial: Bool) -> Bool {
        if let named { return named.contains(lab) && (initial || follow || waiting.contains(lab)) }
        return initial || follow
    }

    private func directoryEvents(emit: (LabEvent) -> Void, note: (String) -> Void) {
        for event in inotify.read() {
            if event.watch == runWatch {
                if event.name == "nslab" { attachRoot(initial: false, emit: emit, note: note) }
                if event.name == "netns" { attachNetns() }
            } else if event.watch == rootWatch {
                if event.has(IN_DELETE_SELF) || event.has(IN_IGNORED) {
                    rootWatch = nil
                } else if event.has(IN_CREATE) || event.has(IN_MOVED_TO) {
                    if labs[event.name] == nil && wants(event.name, initial: false) { add(event.name, history: false, emit: emit, note: note) }
                } else if let lab = labs.removeValue(forKey: event.name) {
                    drop(lab)
                    parts.release(lab: lab.name)
                    emit(LabEvent(type: .labDestroyed, lab: lab.name))
                    if follow, named?.contains(lab.name) == true { waiting.insert(lab.name) }
                }
            } else if event.watch == netnsWatch {
                if event.has(IN_DELETE_SELF) || event.has(IN_IGNORED) { netnsWatch = nil; continue }
                for lab in labs.values { lab.subscriptions[event.name] = nil }
            } else if let lab = labs.values.first(where: { $0.directoryWatch == event.watch }) {
                if event.name == LabEventMonitor.journalName { readJournal(lab, history: false, emit: emit) }
                // A spread lab's record of its hosts, written at each deploy: new hosts' parts are followed.
                if event.name == SpreadLab.fileName { parts.follow(lab: lab.name, note: note) }
            }
        }
    }

    /// Starts following a lab: its directory, then what its journal says so far (`history`:
    /// said before we looked, so only remembered, not reported).
    private func add(_ name: String, history: Bool, emit: (LabEvent) -> Void, note: (String) -> Void) {
        let lab = FollowedLab(name: name)
        labs[name] = lab
        waiting.remove(name)
        lab.directoryWatch = inotify.watch("\(LabRecord.root)/\(name)", mask: IN_CREATE | IN_MODIFY | IN_MOVED_TO)
        readJournal(lab, history: history, emit: emit)
        parts.follow(lab: name, note: note)
    }

    private func drop(_ lab: FollowedLab) {
        if let watch = lab.directoryWatch { inotify.remove(watch) }
        lab.close()
    }

    // MARK: The journal

    private func readJournal(_ lab: FollowedLab, history: Bool, emit: (LabEvent) -> Void) {
        guard let handle = FileHandle(forReadingAtPath: "\(LabRecord.root)/\(lab.name)/\(LabEventMonitor.journalName)") else { return }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: lab.journalOffset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty else { return }
        lab.journalOffset += UInt64(data.count)
        lab.partialLine += data
        guard let lastNewline = lab.partialLine.lastIndex(of: UInt8(ascii: "\n")) else { return }
        let complete = lab.partialLine[...lastNewline]
        lab.partialLine = Array(lab.partialLine[(lastNewline + 1)...])
        let decoder = JSONDecoder()
        var created: [(name: String, node: String)] = []
        var inodes: [String: UInt64] = [:]
        for line in complete.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let entry = try? decoder.decode(RecordEntry.self, from: Data(line)) else { continue }
            take(entry, lab: lab, history: history).forEach(emit)
            if entry.event == .namespaceCreated, let namespace = entry.name, let inode = entry.inode {
                created.append((namespace, lab.nodes[namespace] ?? namespace))
                inodes[namespace] = inode
            }
        }
        subscribe(lab, to: created, inodes: inodes)
    }

    /// What one journal line means for the lab, and the events it is (none for bookkeeping lines
    /// and for history).
    private func take(_ entry: RecordEntry, lab: FollowedLab, history: Bool) -> [LabEvent] {
        let report = !history
        switch entry.event {
        case .lab:
            lab.file = entry.file
        case .namespace:
            if let namespace = entry.name { lab.nodes[namespace] = entry.node ?? namespace }
        case .namespaceCreated:
            if report && lab.deployed, let namespace = entry.name {
                return [LabEvent(type: .nodeAdded, lab: lab.name, node: lab.nodes[namespace] ?? namespace)]
            }
        case .deployed:
            defer { lab.deployed = true }
            if report && !lab.deployed { return [LabEvent(type: .labDeployed, lab: lab.name, file: lab.file)] }
        case .converged:
            lab.deployed = true
            lab.file = entry.file ?? lab.file
            if report { return [LabEvent(type: .labConverged, lab: lab.name, file: lab.file)] }
        case .nodeState:
            if report, let node = entry.node { return [LabEvent(type: entry.up == false ? .nodeStopped : .nodeStarted, lab: lab.name, node: node)] }
        case .nodeRemoved:
            if let namespace = entry.name { lab.subscriptions[namespace] = nil; lab.translators[namespace] = nil }
            if report { return [LabEvent(type: .nodeRemoved, lab: lab.name, node: entry.node)] }
        case .process:
            return watchProcess(entry, lab: lab, history: history)
        case .links, .etcDirectory, .etcDirectoryCreated, .uts, .utsCreated, .linkState, .frrDirectory, .frrDirectoryCreated:
            break  // links are reported by the kernel; the rest is nslab's bookkeeping
        }
        return []
    }

    /// Opens a pidfd for a recorded process (its exit makes it readable). History only
    /// remembers processes that still run; a new one already gone started and exited.
    private func watchProcess(_ entry: RecordEntry, lab: FollowedLab, history: Bool) -> [LabEvent] {
        guard let pid = entry.pid else { return [] }
        let started = LabEvent(type: .processStarted, lab: lab.name, node: entry.node, pid: pid, command: entry.command)
        let fd = nslab_pidfd_open(pid)
        // The pid is the recorded process only if it started when the record says.
        if fd >= 0 && NodeProcesses.startTicks(of: pid) == entry.startTicks {
            lab.processes[fd] = entry
            return history ? [] : [started]
        }
        if fd >= 0 { Glibc.close(fd) }
        if history { return [] }
        return [started, LabEvent(type: .processExited, lab: lab.name, node: entry.node, pid: pid, command: entry.command)]
    }

    // MARK: The nodes

    private func subscribe(_ lab: FollowedLab, to namespaces: [(name: String, node: String)], inodes: [String: UInt64]) {
        guard !namespaces.isEmpty else { return }
        attachNetns()
        for subscription in NodeSubscription.open(lab: lab.name, namespaces: namespaces, inodes: inodes, groups: LabEventMonitor.groups) {
            // What the node has now is the baseline changes are told against.
            subscription.pendingDump = try? subscription.socket.requestLinkDump()
            if subscription.pendingDump != nil { lab.baseline[subscription.namespace] = .links }
            lab.subscriptions[subscription.namespace] = subscription
            lab.translators[subscription.namespace] = NodeEventTranslator(lab: lab.name, node: subscription.node)
        }
    }

    private func receive(_ lab: FollowedLab, _ subscription: NodeSubscription, emit: (LabEvent) -> Void, note: (String) -> Void) {
        let namespace = subscription.namespace
        guard let events = try? subscription.socket.receive(buffer: &buffer), var translator = lab.translators[namespace] else {
            lab.subscriptions[namespace] = nil  // the namespace is going: nothing more comes from it
            return
        }
        for event in events {
            switch event {
            case .dumpDone(let sequence) where sequence == subscription.pendingDump:
                if lab.baseline[namespace] == .links, let next = try? subscription.socket.requestAddressDump() {
                    subscription.pendingDump = next
                    lab.baseline[namespace] = .addresses
                } else {
                    subscription.pendingDump = nil
                    lab.baseline[namespace] = nil
                }
            case .overrun:
                note("lab \(lab.name): node \(subscription.node): the kernel dropped events (receive buffer full)")
            default:
                let baseline = !lab.deployed || lab.baseline[namespace] != nil
                translator.translate(event, baseline: baseline).forEach(emit)
            }
        }
        lab.translators[namespace] = translator
    }
}
